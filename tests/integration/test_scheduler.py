"""EventBridge rules fire: the Scheduled Event, its delivery to targets, and the polling scheduler on a clock."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlops_local.environment import CREDENTIALS_ENV
from mlops_local.exceptions import ToolError
from mlops_local.scheduler import (
    EXECUTION_NAME_MAX,
    RuleScheduler,
    execution_name,
    fire_rule,
    scheduled_event,
    select_path,
    target_input,
)

RULE_ARN = "arn:aws:events:eu-west-1:111122223333:rule/nightly"
T0 = datetime(2026, 3, 1, 5, 0, 0, tzinfo=UTC)
PASS_MACHINE = json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}})
SFN_ROLE = "arn:aws:iam::123456789012:role/scheduler-test"
WAIT_SECONDS = 30


# The Scheduled Event and what each target receives (pure).


def test_scheduled_event_has_the_standard_shape() -> None:
    event = scheduled_event(RULE_ARN, "eu-west-1", datetime(2026, 3, 1, 7, 0, 5, 999, tzinfo=UTC), "event-1")
    assert event == {
        "version": "0",
        "id": "event-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111122223333",
        "time": "2026-03-01T07:00:05Z",
        "region": "eu-west-1",
        "resources": [RULE_ARN],
        "detail": {},
    }


def test_scheduled_event_ids_are_unique_uuids_and_time_is_utc() -> None:
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    first = scheduled_event(RULE_ARN, "eu-west-1", datetime(2026, 3, 1, 8, 0, tzinfo=plus_two))
    second = scheduled_event(RULE_ARN, "eu-west-1", datetime(2026, 3, 1, 8, 0, tzinfo=plus_two))
    assert first["id"] != second["id"]
    assert str(uuid.UUID(first["id"])) == first["id"]
    assert first["time"] == "2026-03-01T06:00:00Z"


def test_scheduled_event_refuses_a_malformed_rule_arn() -> None:
    with pytest.raises(ValueError, match="rule ARN 'nightly' is not an ARN"):
        scheduled_event("nightly", "eu-west-1", T0)


class TestTargetInput:
    EVENT = scheduled_event(RULE_ARN, "eu-west-1", T0, "event-1")

    def test_the_event_by_default(self) -> None:
        assert json.loads(target_input({"Id": "t", "Arn": "x"}, self.EVENT)) == self.EVENT

    def test_constant_input_is_passed_verbatim_and_wins_over_input_path(self) -> None:
        text = '{"dataset":  "iris"}'
        assert target_input({"Input": text, "InputPath": "$.detail"}, self.EVENT) == text

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("$", EVENT),
            ("$.detail", {}),
            ("$.detail-type", "Scheduled Event"),
            ("$.resources", [RULE_ARN]),
            ("$.resources[0]", RULE_ARN),
        ],
    )
    def test_input_path_selects_part_of_the_event(self, path: str, expected: Any) -> None:
        assert json.loads(target_input({"InputPath": path}, self.EVENT)) == expected

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("detail", "InputPath 'detail' must start with '$'"),
            ("$.nothing", "InputPath '$.nothing': '$.nothing' is not in the event"),
            ("$.resources[3]", "'$.resources[3]' is not in the event"),
            ("$.time.year", "'$.time.year' is not in the event"),
            ("$..detail", "InputPath '$..detail': cannot read '..detail'"),
            ("$.detail[*]", "cannot read '[*]'"),
        ],
    )
    def test_input_path_errors(self, path: str, message: str) -> None:
        with pytest.raises(ValueError) as caught:
            select_path(self.EVENT, path)
        assert message in str(caught.value)

    def test_input_transformer_is_refused_rather_than_ignored(self) -> None:
        target = {"InputTransformer": {"InputTemplate": '{"t": <time>}', "InputPathsMap": {"time": "$.time"}}}
        with pytest.raises(ValueError, match="InputTransformer"):
            target_input(target, self.EVENT)


class TestExecutionName:
    def test_format(self) -> None:
        assert execution_name("daily-pipeline", T0, "0a1b2c") == "daily-pipeline-20260301T050000Z-0a1b2c"

    def test_unique_per_call(self) -> None:
        names = {execution_name("r", T0) for _ in range(50)}
        assert len(names) == 50
        assert all(re.fullmatch(r"r-20260301T050000Z-[0-9a-f]{6}", name) for name in names)

    def test_unsafe_characters_are_replaced(self) -> None:
        assert execution_name("my.rule", T0, "abcdef") == "my-rule-20260301T050000Z-abcdef"

    def test_long_rule_names_are_trimmed_keeping_time_and_token(self) -> None:
        name = execution_name("r" * 64, T0, "abcdef")
        assert len(name) == EXECUTION_NAME_MAX
        assert name.endswith("-20260301T050000Z-abcdef")


# Against the emulator.


class FakeClock:
    """A clock the test moves by hand; read from the scheduler's thread."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def events(emulator: Any) -> Any:
    return emulator.client("events")


@pytest.fixture(scope="module")
def sfn(emulator: Any) -> Any:
    return emulator.client("stepfunctions")


@pytest.fixture
def aws_env(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler builds its clients from the environment, as the emulator process runs it."""
    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def machine(sfn: Any) -> Iterator[str]:
    name = f"sched-{uuid.uuid4().hex[:10]}"
    arn = sfn.create_state_machine(name=name, definition=PASS_MACHINE, roleArn=SFN_ROLE)["stateMachineArn"]
    yield arn
    sfn.delete_state_machine(stateMachineArn=arn)


@pytest.fixture
def make_rule(events: Any) -> Iterator[Callable[..., tuple[str, str]]]:
    """Creates rules with targets on the default bus; removes them after the test so nothing else fires them."""
    created: list[tuple[str, list[str]]] = []

    def make(expression: str, targets: list[dict[str, Any]], *, state: str = "ENABLED") -> tuple[str, str]:
        name = f"rule-{uuid.uuid4().hex[:10]}"
        arn = events.put_rule(Name=name, ScheduleExpression=expression, State=state)["RuleArn"]
        if targets:
            events.put_targets(Rule=name, Targets=targets)
        created.append((name, [t["Id"] for t in targets]))
        return name, arn

    yield make
    for name, target_ids in created:
        if target_ids:
            events.remove_targets(Rule=name, Ids=target_ids)
        events.delete_rule(Name=name)


def executions_of(sfn: Any, machine_arn: str, rule_name: str) -> list[dict[str, Any]]:
    found = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    return sorted((e for e in found if e["name"].startswith(f"{rule_name}-")), key=lambda e: e["name"])


def execution_input(sfn: Any, execution_arn: str) -> dict[str, Any]:
    return json.loads(sfn.describe_execution(executionArn=execution_arn)["input"])


@pytest.mark.integration
class TestFireRule:
    def test_starts_the_state_machine_with_the_scheduled_event(
        self, emulator: Any, aws_env: None, sfn: Any, machine: str, make_rule: Callable[..., tuple[str, str]]
    ) -> None:
        rule, rule_arn = make_rule("cron(0 6 * * ? *)", [{"Id": "pipeline", "Arn": machine}])
        at = datetime(2026, 3, 1, 6, 0, 0, tzinfo=UTC)

        deliveries = fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region, now=at)

        assert len(deliveries) == 1
        assert deliveries[0]["target_id"] == "pipeline"
        assert deliveries[0]["target_arn"] == machine
        assert "error" not in deliveries[0]
        execution_arn = deliveries[0]["started"]
        assert re.fullmatch(rf".*:execution:[^:]+:{rule}-20260301T060000Z-[0-9a-f]{{6}}", execution_arn)
        event = execution_input(sfn, execution_arn)
        assert event == {
            "version": "0",
            "id": event["id"],
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": rule_arn.split(":")[4],
            "time": "2026-03-01T06:00:00Z",
            "region": emulator.region,
            "resources": [rule_arn],
            "detail": {},
        }
        uuid.UUID(event["id"])
        # The Pass state echoes its input: the execution really ran on what the rule sent.
        finished = wait_for(
            lambda: (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING" and d,
            "the execution to finish",
        )
        assert finished["status"] == "SUCCEEDED"
        assert json.loads(finished["output"]) == event

    def test_firing_twice_starts_two_executions(
        self, emulator: Any, aws_env: None, sfn: Any, machine: str, make_rule: Callable[..., tuple[str, str]]
    ) -> None:
        rule, _ = make_rule("rate(1 day)", [{"Id": "pipeline", "Arn": machine}])
        at = datetime(2026, 3, 1, 6, 0, 0, tzinfo=UTC)
        first = fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region, now=at)
        second = fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region, now=at)
        assert first[0]["started"] != second[0]["started"]
        assert len(executions_of(sfn, machine, rule)) == 2

    def test_honours_input_and_input_path(
        self, emulator: Any, aws_env: None, sfn: Any, machine: str, make_rule: Callable[..., tuple[str, str]]
    ) -> None:
        rule, rule_arn = make_rule(
            "rate(1 hour)",
            [
                {"Id": "constant", "Arn": machine, "Input": '{"dataset": "iris", "force": true}'},
                {"Id": "resources", "Arn": machine, "InputPath": "$.resources"},
            ],
        )
        deliveries = fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region)
        inputs = {d["target_id"]: execution_input(sfn, d["started"]) for d in deliveries}
        assert inputs == {"constant": {"dataset": "iris", "force": True}, "resources": [rule_arn]}

    def test_a_failing_target_does_not_stop_the_others(
        self, emulator: Any, aws_env: None, sfn: Any, machine: str, make_rule: Callable[..., tuple[str, str]]
    ) -> None:
        missing = machine.rsplit(":", 1)[0] + ":no-such-machine"
        rule, _ = make_rule(
            "rate(1 hour)",
            [
                {"Id": "a-missing", "Arn": missing},
                {"Id": "b-queue", "Arn": "arn:aws:sqs:us-east-1:123456789012:some-queue"},
                {"Id": "c-good", "Arn": machine},
            ],
        )
        deliveries = {
            d["target_id"]: d for d in fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region)
        }
        assert "StateMachineDoesNotExist" in deliveries["a-missing"]["error"]
        assert "started" not in deliveries["a-missing"]
        assert deliveries["b-queue"]["error"] == "targets of service 'sqs' are not supported (states, lambda)"
        assert deliveries["c-good"]["started"].startswith(machine.replace(":stateMachine:", ":execution:"))
        assert len(executions_of(sfn, machine, rule)) == 1

    def test_a_rule_without_targets_delivers_nothing(
        self, emulator: Any, aws_env: None, make_rule: Callable[..., tuple[str, str]]
    ) -> None:
        rule, _ = make_rule("rate(1 hour)", [])
        assert fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region) == []

    def test_an_unknown_rule_is_a_tool_error(self, emulator: Any, aws_env: None) -> None:
        with pytest.raises(ToolError, match="no rule named 'no-such-rule' on event bus 'default'"):
            fire_rule("no-such-rule", endpoint_url=emulator.endpoint_url, region=emulator.region)

    def test_invokes_a_lambda_target_asynchronously_with_the_event(
        self,
        emulator: Any,
        aws_env: None,
        make_rule: Callable[..., tuple[str, str]],
        make_zip: Callable[[dict[str, str]], bytes],
        lambda_role: str,
    ) -> None:
        s3, lam = emulator.client("s3"), emulator.client("lambda")
        bucket = f"sched-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=bucket)
        handler = (
            "import json, os, boto3\n"
            "def handler(event, context):\n"
            "    boto3.client('s3').put_object(Bucket=os.environ['BUCKET'], Key='event.json',"
            " Body=json.dumps(event))\n"
        )
        function_arn = lam.create_function(
            FunctionName=bucket,
            Runtime="python3.11",
            Role=lambda_role,
            Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": handler})},
            Environment={"Variables": {"BUCKET": bucket}},
            Timeout=30,
        )["FunctionArn"]
        rule, rule_arn = make_rule("rate(1 hour)", [{"Id": "fn", "Arn": function_arn}])

        deliveries = fire_rule(rule, endpoint_url=emulator.endpoint_url, region=emulator.region, now=T0)

        assert deliveries == [{"target_id": "fn", "target_arn": function_arn, "started": function_arn}]
        written = wait_for(
            lambda: (
                s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)
                and s3.get_object(Bucket=bucket, Key="event.json")["Body"].read()
            ),
            "the function to write the event it received",
        )
        event = json.loads(written)
        assert event["detail-type"] == "Scheduled Event"
        assert event["resources"] == [rule_arn]
        assert event["time"] == "2026-03-01T05:00:00Z"


@pytest.mark.integration
class TestRuleScheduler:
    def poll_at(self, scheduler: RuleScheduler, clock: FakeClock, delta: timedelta) -> None:
        """Move the clock, then wait for two polls: at least one whole poll ran after the move."""
        clock.advance(delta)
        assert scheduler.wait_for_polls(2), "the scheduler stopped polling"

    def test_rate_rule_fires_once_per_period_with_the_event(
        self, emulator: Any, aws_env: None, sfn: Any, machine: str, make_rule: Callable[..., tuple[str, str]]
    ) -> None:
        rule, rule_arn = make_rule("rate(1 minute)", [{"Id": "pipeline", "Arn": machine}])
        disabled, _ = make_rule("rate(1 minute)", [{"Id": "pipeline", "Arn": machine}], state="DISABLED")
        broken, _ = make_rule("cron(not a schedule)", [{"Id": "pipeline", "Arn": machine}])
        clock = FakeClock(T0)
        scheduler = RuleScheduler(
            endpoint_url=emulator.endpoint_url, region=emulator.region, now=clock, poll_interval=0.05
        )
        scheduler.start()
        try:
            assert scheduler.wait_for_polls(2)
            assert executions_of(sfn, machine, rule) == []

            self.poll_at(scheduler, clock, timedelta(seconds=59))
            assert executions_of(sfn, machine, rule) == []

            self.poll_at(scheduler, clock, timedelta(seconds=1))
            first = executions_of(sfn, machine, rule)
            assert len(first) == 1
            event = execution_input(sfn, first[0]["executionArn"])
            assert event["detail-type"] == "Scheduled Event"
            assert event["source"] == "aws.events"
            assert event["resources"] == [rule_arn]
            assert event["time"] == "2026-03-01T05:01:00Z"

            # Many more polls inside the same minute: still one execution.
            self.poll_at(scheduler, clock, timedelta(seconds=30))
            assert scheduler.wait_for_polls(5)
            assert len(executions_of(sfn, machine, rule)) == 1

            self.poll_at(scheduler, clock, timedelta(seconds=31))
            second = executions_of(sfn, machine, rule)
            assert len(second) == 2
            assert execution_input(sfn, second[1]["executionArn"])["time"] == "2026-03-01T05:02:00Z"

            # A ten-minute pause fires once, not ten times, and the schedule goes on.
            self.poll_at(scheduler, clock, timedelta(minutes=10))
            assert len(executions_of(sfn, machine, rule)) == 3
            self.poll_at(scheduler, clock, timedelta(minutes=1))
            assert len(executions_of(sfn, machine, rule)) == 4

            assert executions_of(sfn, machine, disabled) == []
            assert executions_of(sfn, machine, broken) == []
        finally:
            scheduler.stop()

    def test_a_rule_enabled_later_counts_from_then(
        self,
        emulator: Any,
        aws_env: None,
        events: Any,
        sfn: Any,
        machine: str,
        make_rule: Callable[..., tuple[str, str]],
    ) -> None:
        rule, _ = make_rule("rate(1 minute)", [{"Id": "pipeline", "Arn": machine}], state="DISABLED")
        clock = FakeClock(T0)
        scheduler = RuleScheduler(
            endpoint_url=emulator.endpoint_url, region=emulator.region, now=clock, poll_interval=0.05
        )
        scheduler.start()
        try:
            self.poll_at(scheduler, clock, timedelta(minutes=5))
            assert executions_of(sfn, machine, rule) == []
            events.enable_rule(Name=rule)
            assert scheduler.wait_for_polls(2)  # first seen enabled at T0 + 5 min
            self.poll_at(scheduler, clock, timedelta(seconds=59))
            assert executions_of(sfn, machine, rule) == []
            self.poll_at(scheduler, clock, timedelta(seconds=1))
            assert len(executions_of(sfn, machine, rule)) == 1
            events.disable_rule(Name=rule)
            self.poll_at(scheduler, clock, timedelta(minutes=5))
            assert len(executions_of(sfn, machine, rule)) == 1
        finally:
            scheduler.stop()


def test_the_scheduler_survives_an_endpoint_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls fail (nothing listens), are logged, and the thread keeps polling until stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    for name, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    scheduler = RuleScheduler(endpoint_url=f"http://127.0.0.1:{closed_port}", region="us-east-1", poll_interval=0.05)
    scheduler.start()
    try:
        assert scheduler.wait_for_polls(3)
    finally:
        scheduler.stop()
    assert scheduler.poll_count >= 3


def test_the_scheduler_cannot_start_twice_and_needs_a_positive_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(ValueError, match="poll_interval must be positive, got 0"):
        RuleScheduler(endpoint_url="http://127.0.0.1:1", region="us-east-1", poll_interval=0)
    scheduler = RuleScheduler(endpoint_url="http://127.0.0.1:1", region="us-east-1", poll_interval=60)
    scheduler.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            scheduler.start()
    finally:
        scheduler.stop()
