"""Values a deployed template gives its resources, worked out from what the deploy recorded: parameters and outputs.

CloudFormation resolves `!Ref`, `!GetAtt`, `!Sub` and `!If` when it creates a resource. A process the tools start
outside the stack (the API under `chalice local`) needs the same values: `DeployedStack` resolves an expression
from the parameters the deploy passed (else the template's defaults) and, for a resource's physical id or
attribute, from the stack output whose Value is that same expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_local.exceptions import ToolError

_SUB_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_URL_SUFFIX = "amazonaws.com"


class UnresolvedValueError(ToolError):
    """An expression needs a value the deploy did not record."""


@dataclass(frozen=True)
class DeployedStack:
    template: Mapping[str, Any]  # as load_template reads it: intrinsics in their long form
    parameters: Mapping[str, str]  # what the deploy passed; the others took their template defaults
    outputs: Mapping[str, str]
    stack_name: str
    region: str

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """A function's environment as the template gives it: Globals, then the function's own variables."""
        variables = dict(_environment(self.template.get("Globals", {}).get("Function", {})))
        function = self.template.get("Resources", {}).get(logical_id)
        if function is None:
            raise UnresolvedValueError(f"the template has no resource {logical_id}")
        variables.update(_environment(function.get("Properties", {})))
        return {name: self.resolve(value, what=name) for name, value in variables.items()}

    def resolve(self, value: Any, *, what: str = "a value") -> str:
        """The string CloudFormation gives `value`; UnresolvedValueError names `what` when it cannot be known."""
        output = self._output_of(value)
        if output is not None:
            return output
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument, what)
            if function == "Fn::GetAtt":
                return self._get_att(argument, what)
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.condition(condition) else when_false, what=what)
            if function == "Fn::Sub":
                return self._sub(argument, what)
            if function == "Fn::Join":
                delimiter, parts = argument
                return delimiter.join(self.resolve(part, what=what) for part in parts)
        raise UnresolvedValueError(f"cannot work out {what} from {value!r}: an intrinsic the tools do not resolve")

    def condition(self, expression: Any) -> bool:
        """A template condition (by name or as an expression) evaluated on the recorded parameters."""
        if isinstance(expression, str):
            conditions = self.template.get("Conditions", {})
            if expression not in conditions:
                raise UnresolvedValueError(f"the template has no condition {expression}")
            return self.condition(conditions[expression])
        if isinstance(expression, bool):
            return expression
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = argument
            return self.resolve(left, what="a condition") == self.resolve(right, what="a condition")
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(item) for item in argument)
        if function == "Fn::Or":
            return any(self.condition(item) for item in argument)
        raise UnresolvedValueError(f"cannot evaluate the condition {expression!r}")

    def _output_of(self, value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        for key, output in self.template.get("Outputs", {}).items():
            if output.get("Value") == value and key in self.outputs:
                return self.outputs[key]
        return None

    def _ref(self, name: str, what: str) -> str:
        output = self._output_of({"Ref": name})
        if output is not None:
            return output
        pseudo = {
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": _URL_SUFFIX,
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return str(self.parameters[name])
        declared = self.template.get("Parameters", {}).get(name)
        if declared is not None:
            if "Default" not in declared:
                raise UnresolvedValueError(f"cannot work out {what}: parameter {name} has no value and no default")
            return self.resolve(declared["Default"], what=what)
        raise UnresolvedValueError(
            f"cannot work out {what}: no stack output has the value !Ref {name}; add one to the template's Outputs"
        )

    def _get_att(self, argument: Any, what: str) -> str:
        resource, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        output = self._output_of({"Fn::GetAtt": [resource, attribute]})
        if output is None:
            raise UnresolvedValueError(
                f"cannot work out {what}: no stack output has the value !GetAtt {resource}.{attribute}; "
                "add one to the template's Outputs"
            )
        return output

    def _sub(self, argument: Any, what: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.resolve(variables[name], what=what)
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(name, what)
            return self._ref(name, what)

        return _SUB_PLACEHOLDER.sub(replace, text)


def _environment(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    return properties.get("Environment", {}).get("Variables", {})
