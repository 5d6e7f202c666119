"""Errors of the local tooling; the CLI and the emulator print each as one actionable line.

They belong to the library's one hierarchy (`mlops_core.exceptions.MlopsError`), so an entry point that
catches MlopsError catches these too.
"""

from __future__ import annotations

from mlops_core.exceptions import MlopsError

ERROR_PREFIX = "mlops: error: "


def error_line(error: BaseException | str) -> str:
    """The one line a command prints on stderr when it fails with `error`."""
    return f"{ERROR_PREFIX}{error}"


class ToolError(MlopsError):
    """Base: a failure the user can act on; the message says how."""


class DeployError(ToolError):
    """Packaging, transforming or creating the stack failed."""


class StackNotUpError(ToolError):
    """The emulator or a service it needs is not running."""


class PortInUseError(ToolError):
    """A port the stack needs is taken by another process."""


class MissingDependencyError(ToolError):
    """A program or package the command needs is not installed."""


class EmulatorError(ToolError):
    """The emulator could not start (port taken, configuration refused)."""


class UnsupportedMotoError(EmulatorError):
    """The installed moto is outside the supported versions, or a private seam the emulator patches moved."""


class SnapshotError(EmulatorError):
    """The saved emulator state cannot be read by this emulator (another format or moto version, or damaged)."""
