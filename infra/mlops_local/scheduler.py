"""Fire EventBridge scheduled rules on an AWS endpoint that stores rules but never fires them.

`RuleScheduler` is a thread that looks at the ENABLED scheduled rules of the default event bus every poll
and, when a rule is due, delivers the standard Scheduled Event to each of its targets. `fire_rule` delivers
the same event once, now, for a "fire now" command. Targets: Step Functions state machines (start_execution)
and Lambda functions (asynchronous invoke), given the target's `Input` or `InputPath` as EventBridge does.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

import boto3
from botocore.exceptions import ClientError

from mlops_local import environment
from mlops_local.exceptions import ToolError
from mlops_local.schedule_expressions import FireTimeTracker

logger = logging.getLogger(__name__)

DEFAULT_EVENT_BUS = "default"
EXECUTION_NAME_MAX = 80
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


class Delivery(TypedDict, total=False):
    """One target's outcome: `started` holds the execution ARN or the invoked function ARN, else `error`."""

    target_id: str
    target_arn: str
    started: str
    error: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def scheduled_event(rule_arn: str, region: str, now: datetime, event_id: str | None = None) -> dict[str, Any]:
    """The Scheduled Event EventBridge sends for a rule firing at `now`."""
    account = _arn_part(rule_arn, 4, "rule")
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The JSON text a target gets: its constant `Input`, else the `InputPath` part of the event, else all."""
    if target.get("InputTransformer"):
        raise ValueError("InputTransformer targets are not supported by the local scheduler")
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(select_path(event, target["InputPath"]))
    return json.dumps(event)


def select_path(document: Any, path: str) -> Any:
    """The value at a JSONPath of the simple form EventBridge InputPath uses: `$`, `$.a.b`, `$.a[0]`."""
    if not path.startswith("$"):
        raise ValueError(f"InputPath {path!r} must start with '$'")
    position, value = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"InputPath {path!r}: cannot read {path[position:]!r} (use '.name' or '[index]')")
        key, index = step.groups()
        try:
            value = value[key] if key is not None else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"InputPath {path!r}: {path[: step.end()]!r} is not in the event") from None
        position = step.end()
    return value


def execution_name(rule_name: str, now: datetime, token: str | None = None) -> str:
    """A unique Step Functions-safe name `<rule>-<yyyymmddTHHMMSSZ>-<6 hex>`, the rule part trimmed to fit."""
    suffix = f"-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{token or secrets.token_hex(3)}"
    safe_rule = _UNSAFE_NAME_CHARS.sub("-", rule_name) or "rule"
    return safe_rule[: EXECUTION_NAME_MAX - len(suffix)] + suffix


def _arn_part(arn: str, index: int, what: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"{what} ARN {arn!r} is not an ARN")
    return parts[index]


@dataclass(frozen=True)
class AwsClients:
    """The clients delivery needs, built once per endpoint and region."""

    events: Any
    stepfunctions: Any
    lambda_: Any

    @classmethod
    def create(cls, endpoint_url: str | None, region: str | None) -> AwsClients:
        # An emulated endpoint gets the throwaway credentials: a user's shell may have none (or real ones).
        credentials = environment.CLIENT_CREDENTIALS if endpoint_url else {}
        session = boto3.session.Session(region_name=region, **credentials)
        return cls(
            events=session.client("events", endpoint_url=endpoint_url),
            stepfunctions=session.client("stepfunctions", endpoint_url=endpoint_url),
            lambda_=session.client("lambda", endpoint_url=endpoint_url),
        )


def list_scheduled_rules(events: Any, event_bus: str = DEFAULT_EVENT_BUS) -> list[dict[str, Any]]:
    """The ENABLED rules of the bus that carry a ScheduleExpression."""
    rules: list[dict[str, Any]] = []
    for page in events.get_paginator("list_rules").paginate(EventBusName=event_bus):
        rules.extend(
            rule for rule in page.get("Rules", []) if rule.get("State") == "ENABLED" and rule.get("ScheduleExpression")
        )
    return rules


def deliver(
    clients: AwsClients, rule: dict[str, Any], region: str, now: datetime, event_bus: str = DEFAULT_EVENT_BUS
) -> list[Delivery]:
    """Send one Scheduled Event for `rule` to each of its targets; a failing target does not stop others."""
    event = scheduled_event(rule["Arn"], region, now)
    targets: list[dict[str, Any]] = []
    for page in clients.events.get_paginator("list_targets_by_rule").paginate(
        Rule=rule["Name"], EventBusName=event_bus
    ):
        targets.extend(page.get("Targets", []))
    deliveries = [_deliver_one(clients, rule["Name"], target, event, now) for target in targets]
    logger.info(
        "rule %s fired for %s: %s",
        rule["Name"],
        event["time"],
        ", ".join(d.get("started") or f"{d['target_id']} failed" for d in deliveries) or "no targets",
    )
    return deliveries


def _deliver_one(
    clients: AwsClients, rule_name: str, target: dict[str, Any], event: dict[str, Any], now: datetime
) -> Delivery:
    target_arn = target.get("Arn", "")
    delivery = Delivery(target_id=target.get("Id", ""), target_arn=target_arn)
    try:
        payload = target_input(target, event)
        service = _arn_part(target_arn, 2, "target")
        if service == "states":
            response = clients.stepfunctions.start_execution(
                stateMachineArn=target_arn, name=execution_name(rule_name, now), input=payload
            )
            delivery["started"] = response["executionArn"]
        elif service == "lambda":
            clients.lambda_.invoke(FunctionName=target_arn, InvocationType="Event", Payload=payload.encode())
            delivery["started"] = target_arn
        else:
            raise ValueError(f"targets of service {service!r} are not supported (states, lambda)")
    except (ClientError, ValueError) as exc:
        delivery["error"] = str(exc)
        logger.error(
            "rule %s: delivering to target %s (%s) failed: %s",
            rule_name,
            delivery["target_id"],
            target_arn,
            exc,
        )
    return delivery


def fire_rule(
    rule_name: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    now: datetime | None = None,
    event_bus: str = DEFAULT_EVENT_BUS,
) -> list[Delivery]:
    """Fire `rule_name` once, now, whatever its state or schedule; ToolError if the rule does not exist."""
    clients = AwsClients.create(endpoint_url, region)
    try:
        rule = clients.events.describe_rule(Name=rule_name, EventBusName=event_bus)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise ToolError(
                f"no rule named {rule_name!r} on event bus {event_bus!r} (see `aws events list-rules`)"
            ) from None
        raise
    return deliver(clients, rule, clients.events.meta.region_name, now or utc_now(), event_bus)


class RuleScheduler:
    """Fires the ENABLED scheduled rules of an event bus on time, until stopped.

    Each poll lists the rules, updates their next fire times and delivers the rules that are due, each once
    per due time. Every error is logged and the thread carries on with the next poll.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        now: Callable[[], datetime] = utc_now,
        poll_interval: float = 1.0,
        event_bus: str = DEFAULT_EVENT_BUS,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        self._endpoint_url = endpoint_url
        self._region = region
        self._now = now
        self._poll_interval = poll_interval
        self._event_bus = event_bus
        self._tracker = FireTimeTracker()
        self._clients: AwsClients | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polls = 0
        self._polled = threading.Condition()

    @property
    def poll_count(self) -> int:
        """How many polls have completed (successfully or not)."""
        return self._polls

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the scheduler is already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rule-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and wait for the thread to end; a delivery in progress finishes first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_for_polls(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` more polls have completed; False on timeout."""
        with self._polled:
            target = self._polls + count
            return self._polled.wait_for(lambda: self._polls >= target, timeout)

    def poll_once(self) -> dict[str, list[Delivery]]:
        """Look at the rules once and fire those due; returns {rule name: deliveries} for the rules fired.

        The thread calls this every poll; call it directly only on a scheduler that is not started.
        """
        if self._clients is None:
            self._clients = AwsClients.create(self._endpoint_url, self._region)
        clients = self._clients
        now = self._now()
        rules = {rule["Name"]: rule for rule in list_scheduled_rules(clients.events, self._event_bus)}
        update = self._tracker.update({name: rule["ScheduleExpression"] for name, rule in rules.items()}, now)
        for name, problem in update.invalid.items():
            logger.error("rule %s will never fire: %s", name, problem)
        fired: dict[str, list[Delivery]] = {}
        region = clients.events.meta.region_name
        for due in update.due:
            try:
                fired[due.rule_name] = deliver(clients, rules[due.rule_name], region, due.due, self._event_bus)
            except Exception:
                logger.exception("rule %s: firing for %s failed", due.rule_name, due.due.isoformat())
        return fired

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.poll_once()
                if failing:
                    logger.info("scheduler polls succeed again")
                failing = False
            except Exception:
                # An endpoint that is still starting or briefly gone must not end the schedule; one traceback
                # per outage is enough, not one per poll.
                if not failing:
                    logger.exception("scheduler poll failed; retrying every %s s", self._poll_interval)
                failing = True
            with self._polled:
                self._polls += 1
                self._polled.notify_all()
            self._stop.wait(self._poll_interval)
