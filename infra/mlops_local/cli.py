"""`mlops`: run the whole stack on this machine, deploy it, and drive the pipeline.

Every failure the user can act on ends with one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from mlops_core.data import DEMO_DATASETS
from mlops_core.exceptions import MlopsError

from mlops_local import dataset_commands, dataset_records, environment, services
from mlops_local.exceptions import StackNotUpError, ToolError, error_line
from mlops_local.services import DEFAULT_DATASET, DEFAULT_STACK, TEMPLATE, Ports, StackState

if TYPE_CHECKING:
    from mlops_local.deployments import Deployment

    # What the pipeline commands work on: the embedded stack, or a LocalStack or AWS stack a deploy recorded.
    Stack: TypeAlias = StackState | Deployment

DEFAULT_STATE_DIR = Path(os.environ.get(environment.STATE_DIR) or ".mlops")
EMULATOR = "emulator"
TARGETS = (EMULATOR, "localstack", "aws")
STEP_FUNCTIONS = {
    "check_data_drift": "CheckDataDriftFunctionName",
    "train_model": "TrainModelFunctionName",
    "evaluate_candidate": "EvaluateCandidateFunctionName",
    "run_ab_test": "RunAbTestFunctionName",
    "find_pending_candidate": "FindPendingCandidateFunctionName",
    "promote_if_better": "PromoteIfBetterFunctionName",
    "generate_report": "GenerateReportFunctionName",
    "api": "ApiFunctionName",
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("mlops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mlops status | head`): not the stack's fault, and nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MlopsError as exc:  # the tools' own errors (ToolError) and the library's
        print(error_line(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        if _is_connection_error(exc):
            hint = getattr(args, "unreachable_hint", None) or "is it up? run `mlops up`"
            print(error_line(f"cannot reach the stack ({exc}); {hint}"), file=sys.stderr)
            return 1
        if _is_missing_credentials(exc):
            print(error_line(f"{exc}: configure AWS credentials (`aws configure`, AWS_PROFILE)"), file=sys.stderr)
            return 1
        raise


def _is_connection_error(exc: Exception) -> bool:
    from botocore.exceptions import EndpointConnectionError

    return isinstance(exc, EndpointConnectionError | ConnectionError)


def _is_missing_credentials(exc: Exception) -> bool:
    from botocore.exceptions import NoCredentialsError

    return isinstance(exc, NoCredentialsError)


# ---------------------------------------------------------------- stack lifecycle


def cmd_up(args: argparse.Namespace) -> int:
    """Start the stack, or what of it stopped: its state (objects, items, executions, the registry) is kept in
    the state folder across `down` and `up`, and across a crash of any of its processes."""
    state = _state_for_up(args)
    running = state.running()
    if set(services.SERVICES) <= set(running):
        _say(f"the stack is already up (state in {state.state_dir}); `mlops down` stops it")
        _print_stack(state)
        return 0
    missing = tuple(name for name in services.SERVICES if name not in running)
    if running:
        _say(f"restarting what stopped: {', '.join(missing)}")
    for name in missing:
        # A service whose leader died may leave children holding its port (MLflow's server workers).
        if state.pids.get(name):
            services.stop_pid(state.pids[name], grace=5)
    state.pids = running
    services.require_free_ports(state.host, state.ports, missing)
    Path(state.state_dir).mkdir(parents=True, exist_ok=True)
    try:
        if "emulator" in missing:
            _say(f"starting the AWS emulator on {state.endpoint_url}")
            state.pids["emulator"] = services.start_emulator(state)
            state.save()
        _deploy_to_stack(state)
        if "mlflow" in missing:
            _say(f"starting the MLflow tracking server on {state.mlflow_url}")
            state.pids["mlflow"] = services.start_mlflow(state, state.outputs["ArtifactsBucketName"])
            state.save()
        health = services.wait_api(state)
        _say(f"the API answers at {state.api_url}: {health.get('status')} {health.get('models') or ''}".rstrip())
    except BaseException:
        _stop(state, missing)
        raise
    _report_interrupted_runs(state)
    _print_stack(state)
    if args.detach:
        _say("running in the background; stop it with `mlops down`")
        return 0
    _say("the daily schedule is live; press Ctrl-C to stop")
    _wait_for_signal()
    _stop(state)
    return 0


def _state_for_up(args: argparse.Namespace) -> StackState:
    """The saved stack with today's ports, or a new one. A saved stack watches its dataset for good: another
    one needs `mlops reset` (or another --state-dir)."""
    state_dir = args.state_dir.resolve()
    saved = StackState.saved(state_dir)
    requested = args.dataset or os.environ.get(environment.DATASET)
    if saved is None:
        return StackState(
            state_dir=str(state_dir),
            ports=Ports.from_env(),
            api_key=os.environ.get(environment.API_KEY) or secrets.token_urlsafe(24),
            stack_name=args.stack_name,
            dataset=requested or DEFAULT_DATASET,
            origin=getattr(args, "origin", None) or "up",
            ephemeral=bool(getattr(args, "ephemeral", False)),
        )
    if requested and requested != saved.dataset:
        raise ToolError(
            f"the stack in {state_dir} watches {saved.dataset!r}, not {requested!r}: `mlops reset` wipes it, "
            "or use another --state-dir"
        )
    if not saved.running():
        saved.ports = Ports.from_env()  # a stopped stack may come back on other ports
    saved.api_key = os.environ.get(environment.API_KEY) or saved.api_key
    return saved


def _report_interrupted_runs(state: StackState) -> None:
    """Executions the emulator ended because the stack stopped during them get their failure report now."""
    from mlops_local import runs

    sfn, s3, _ = _clients(state)
    for run_id in runs.report_interrupted(
        sfn,
        state.target().client("lambda"),
        s3,
        state_machine_arn=state.outputs["StateMachineArn"],
        report_function=state.outputs["GenerateReportFunctionName"],
        reports_bucket=state.outputs["ReportsBucketName"],
    ):
        _say(f"execution {run_id} stopped with the stack: it ended as failed, with a failure report")


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _stop(state: StackState, names: tuple[str, ...] = services.SERVICES) -> None:
    """Stop the named services (the API first, the emulator last, so it saves the final state); the stack's
    record stays, so `mlops up` brings back the same stack."""
    # Whatever else an older version started goes first; the emulator last.
    order = [name for name in state.pids if name not in services.SERVICES] + list(reversed(services.SERVICES))
    for name in order:
        pid = state.pids.pop(name, None) if name in names or name not in services.SERVICES else None
        if pid:
            services.stop_pid(pid)
    if (Path(state.state_dir) / "stack.json").exists() or state.pids:
        state.save()


def cmd_down(args: argparse.Namespace) -> int:
    state = StackState.load(args.state_dir.resolve())
    _stop(state)
    _say(f"stack stopped; its state stays in {state.state_dir} (`mlops up` resumes it, `mlops reset` wipes it)")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """Wipe the stack's state: the emulator's snapshot, MLflow's database, logs, the API key."""
    import shutil

    state_dir = args.state_dir.resolve()
    saved = StackState.saved(state_dir)
    if saved is not None and saved.running():
        raise ToolError(f"the stack in {state_dir} is up: `mlops down` first, then `mlops reset`")
    if not state_dir.exists():
        _say(f"nothing to reset in {state_dir}")
        return 0
    # The datasets `mlops dataset add` recorded are what the user brought, not the stack's state: they stay,
    # so `mlops seed` can upload them to the new stack.
    added = dataset_records.names(state_dir)
    for entry in state_dir.iterdir():
        if added and entry.name == dataset_records.RECORDS_DIR:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    if not added:
        state_dir.rmdir()
    _say(f"wiped {state_dir}: the next `mlops up` starts an empty stack")
    if added:
        _say(f"kept the datasets added here ({', '.join(added)}): `mlops seed` uploads them to the new stack")
    return 0


def _deploy_to_stack(state: StackState, *, overrides: dict[str, str] | None = None) -> None:
    from mlops_local.deployer import deploy

    _say(f"deploying {TEMPLATE.name} as stack {state.stack_name}")
    parameters = {**_parameters(state), **(overrides or {})}
    result = deploy(state.target(), template_path=TEMPLATE, stack_name=state.stack_name, parameters=parameters)
    state.outputs = result.outputs
    state.parameters = parameters
    state.save()
    _say(f"stack {result.status} in {result.seconds:.1f} s")


def _parameters(state: StackState) -> dict[str, str]:
    params = {
        "DatasetName": state.dataset,
        "MlflowTrackingUri": state.mlflow_url,
        # The A/B step calls this stack's API Gateway stage, reached at the emulator's host and port.
        "ApiUrl": "",
        "LocalStackHost": f"{state.host}:{state.ports.emulator}",
        "ApiKey": state.api_key,
        "S3PublicEndpoint": state.endpoint_url,
    }
    # Optional overrides from the environment, for short demo or test runs.
    for variable, parameter in environment.PARAMETER_VARIABLES.items():
        if os.environ.get(variable):
            params[parameter] = os.environ[variable]
    return params


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy to the embedded stack, or to LocalStack or AWS; the latter is recorded in the state folder, so the
    other commands find it (`--target`)."""
    from mlops_local import deployments
    from mlops_local.deployer import deploy, load_template
    from mlops_local.targets import resolve_target

    malformed = [p for p in args.parameter if "=" not in p]
    if malformed:
        raise ToolError(f"--parameter takes KEY=VALUE, got {malformed[0]!r}")
    params = dict(p.split("=", 1) for p in args.parameter)
    target = resolve_target(args.target, endpoint_url=args.endpoint_url, image_uri=args.image_uri)
    if target.name == "emulator":
        state = StackState.load(args.state_dir.resolve())
        if "DatasetName" in params and params["DatasetName"] != state.dataset:
            raise ToolError(
                f"the running stack watches {state.dataset!r} and its API serves that model: "
                "restart it with `mlops down` and `mlops up --dataset NAME` to watch another dataset"
            )
        _deploy_to_stack(state, overrides=params)
        return 0
    defaults = {k: v for k, v in target.default_parameters().items() if k not in params}
    if defaults:
        _say(f"{target.name} defaults: " + " ".join(f"{k}={v}" for k, v in defaults.items()))
    params = {**defaults, **params}
    result = deploy(target, template_path=TEMPLATE, stack_name=args.stack_name, parameters=params)
    _say(f"stack {result.stack_name}: {result.status} in {result.seconds:.1f} s")
    for key, value in sorted(result.outputs.items()):
        print(f"  {key:30} {value}")
    record = deployments.deployment_of(target, result.stack_name, result.outputs, params, load_template(TEMPLATE))
    path = deployments.save(args.state_dir.resolve(), record)
    _say(f"recorded in {path}: `mlops run|status|… --target {target.name}` work on this stack")
    if target.name == "localstack" and "ArtifactsBucketName" in result.outputs:
        _say(
            f"docker-compose.yml: `docker compose up -d mlflow` now keeps MLflow's artifacts in this stack's bucket "
            f"{result.outputs['ArtifactsBucketName']} (MLFLOW_ARTIFACTS_BUCKET overrides)"
        )
    return 0


# ---------------------------------------------------------------- pipeline


def _clients(state: Stack) -> tuple[Any, Any, Any]:
    target = state.target()
    return target.client("stepfunctions"), target.client("s3"), target.client("logs")


def cmd_run(args: argparse.Namespace) -> int:
    from mlops_local import runs

    run_input = _run_input(args.input)
    state = _stack_for(args)
    sfn, s3, _ = _clients(state)
    if args.batch:
        run_input["batch_key"] = args.batch
    arn, name = runs.start_run(sfn, state.outputs["StateMachineArn"], run_input)
    _say(f"started {name}")
    if args.no_wait:
        print(arn)
        return 0
    return _follow_and_summarise(state, sfn, s3, arn)


def _run_input(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        run_input = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(f"--input is not JSON: {exc}") from exc
    if not isinstance(run_input, dict):
        raise ToolError("--input must be a JSON object with the execution's input")
    return run_input


def _follow_and_summarise(state: Stack, sfn: Any, s3: Any, arn: str) -> int:
    from mlops_local import runs

    entered: dict[str, datetime] = {}
    failed: set[str] = set()
    current = [""]

    def show(event: runs.StepEvent) -> None:
        if event.kind == "entered":
            entered[event.state] = event.at
            current[0] = event.state
            print(f"  ▶ {event.state}", flush=True)
        elif event.kind == "exited":
            took = (event.at - entered.get(event.state, event.at)).total_seconds()
            mark = "✗" if event.state in failed else "✓"
            print(f"  {mark} {event.state:<20} {took:7.1f} s", flush=True)
        else:
            failed.add(current[0])
            print(f"    error: {event.detail}", flush=True)

    outcome = runs.follow(sfn, arn, on_event=show)
    print(f"execution {outcome.run_id}: {outcome.status} in {outcome.seconds:.1f} s")
    report = runs.fetch_report(s3, state.outputs["ReportsBucketName"], outcome.run_id)
    if report is None:
        print("no report was written for this run", file=sys.stderr)
        return 1
    for line in report.get("summary", []):
        print(f"  • {line}")
    links = report.get("links", {})
    print(f"  report (JSON): {links.get('json')}")
    print(f"  report (HTML): {links.get('html')}")
    return 0 if outcome.status == "SUCCEEDED" else 1


def cmd_trigger(args: argparse.Namespace) -> int:
    from mlops_local.scheduler import fire_rule

    state = _stack_for(args)
    target = state.target()
    rule = args.rule or state.outputs["DailyScheduleRuleName"]
    if target.name != EMULATOR:
        _say(
            f"EventBridge on {target.name} has no call that fires a scheduled rule by hand: starting what {rule} "
            "starts, with the Scheduled Event as input"
        )
    deliveries = fire_rule(rule, endpoint_url=target.endpoint_url, region=target.region)
    for delivery in deliveries:
        if "error" in delivery:
            print(f"mlops: target {delivery['target_arn']} of {rule} failed: {delivery['error']}", file=sys.stderr)
    started = [d["started"] for d in deliveries if "started" in d]
    if not started:
        raise ToolError(f"rule {rule} has no target that could be started")
    for arn in started:
        _say(f"fired {rule}: {arn}")
    if args.wait:
        sfn, s3, _ = _clients(state)
        executions = [a for a in started if ":execution:" in a]
        return max((_follow_and_summarise(state, sfn, s3, a) for a in executions), default=0)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from mlops_local import deployments

    state_dir = args.state_dir.resolve()
    state = StackState.saved(state_dir)
    recorded = deployments.recorded(state_dir)
    if args.target is None and state is None and not recorded:
        _say(f"no stack in {state_dir}: `mlops up` starts one, `mlops deploy --target localstack|aws` deploys one")
        return 0
    chosen = deployments.choose(state_dir, args.target, embedded=state is not None)
    if chosen != EMULATOR:
        return _deployment_status(args, deployments.load(state_dir, chosen))
    if recorded:
        _say(f"also recorded: {', '.join(recorded)} (`mlops status --target NAME`)")
    if state is None:
        _say(f"no stack in {state_dir}: `mlops up` starts one")
        return 0
    if not state.running():
        _say(
            f"the stack is stopped; it watches dataset {state.dataset!r} (state in {state_dir}); `mlops up` resumes it"
        )
        return 0
    for name, pid in state.pids.items():
        print(f"  {name:10} pid {pid:<8} {'up' if services.pid_alive(pid) else 'DOWN'}")
    _print_stack(state)
    if "StateMachineArn" in state.outputs and services.pid_alive(state.pids.get("emulator", 0)):
        _print_recent_executions(state)
    return 0


def _deployment_status(args: argparse.Namespace, deployment: Deployment) -> int:
    from mlops_local.deployer import stack_status

    args.unreachable_hint = deployment.unreachable_hint()
    status = stack_status(deployment.target().client("cloudformation"), deployment.stack_name)
    where = deployment.endpoint_url or f"region {deployment.region}"
    print(f"  {deployment.name} ({where}), stack {deployment.stack_name}: {status or 'gone'}")
    if status is None:
        raise ToolError(
            f"stack {deployment.stack_name} no longer exists on {deployment.name}: deploy it again with "
            f"`mlops deploy --target {deployment.name}`"
        )
    print(f"  deployed       {deployment.deployed_at}")
    _print_stack(deployment)
    _print_recent_executions(deployment)
    return 0


def _print_recent_executions(stack: Stack) -> None:
    sfn, _, _ = _clients(stack)
    executions = sfn.list_executions(stateMachineArn=stack.outputs["StateMachineArn"], maxResults=5)
    print("recent executions:")
    for execution in executions["executions"]:
        print(f"  {execution['name']:40} {execution['status']}")


def cmd_logs(args: argparse.Namespace) -> int:
    output_key = STEP_FUNCTIONS.get(args.step)
    if output_key is None:
        raise ToolError(f"unknown step {args.step!r}: one of {', '.join(STEP_FUNCTIONS)}")
    state = _stack_for(args)
    _, _, logs = _clients(state)
    group = f"/aws/lambda/{state.outputs[output_key]}"
    start = int((time.time() - args.since_minutes * 60) * 1000)
    seen: set[str] = set()
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group, startTime=start)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        for event in sorted(events, key=lambda e: (e["timestamp"], e["eventId"])):
            if event["eventId"] not in seen:
                seen.add(event["eventId"])
                print(event["message"].rstrip("\n"))
        if not args.follow:
            if not seen:
                _say(f"no log lines in {group} in the last {args.since_minutes} minutes")
            return 0
        time.sleep(1)


def cmd_dev_api(args: argparse.Namespace) -> int:
    """The app under `chalice local`, in the foreground, with the deployed function's environment: for
    developing the app. The stack's API is the deployed one behind the emulated API Gateway (`mlops env`)."""
    state = _live_state(args)
    command, env = services.dev_api_command(state)
    _say(f"serving the app (development server) on {state.dev_api_url}; the stack's API is {state.api_url}")
    os.chdir(services.APP_DIR)
    os.execve(command[0], command, env)
    return 0  # not reached: exec replaces this process


def cmd_env(args: argparse.Namespace) -> int:
    """Shell exports for the real clients (aws, awslocal, curl) against the stack."""
    state = _stack_for(args)
    target = state.target()
    if target.emulated:
        exports = {
            "AWS_ENDPOINT_URL": target.endpoint_url,
            **environment.CREDENTIALS_ENV,
            "LOCALSTACK_HOST": urlsplit(target.endpoint_url).netloc,
        }
    else:
        print("unset AWS_ENDPOINT_URL LOCALSTACK_HOST  # AWS itself, with your own credentials")
        exports = {}
    exports |= {
        "AWS_DEFAULT_REGION": target.region,
        "MLFLOW_TRACKING_URI": state.mlflow_url,
        "API_URL": state.api_url,
        "STATE_MACHINE_ARN": state.outputs.get("StateMachineArn", ""),
        "DATA_BUCKET": state.outputs.get("DataBucketName", ""),
        "REPORTS_BUCKET": state.outputs.get("ReportsBucketName", ""),
    }
    if isinstance(state, StackState):
        exports["API_KEY"] = state.api_key
    else:
        print("# API_KEY: the ApiKey this stack was deployed with (not recorded)")
    for key, value in exports.items():
        print(f"export {key}={value}")
    return 0


# ---------------------------------------------------------------- data


def cmd_seed(args: argparse.Namespace) -> int:
    return dataset_commands.cmd_seed(args, _stack_for(args))


def cmd_dataset(args: argparse.Namespace) -> int:
    return dataset_commands.run(args, lambda: _stack_for(args))


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.rows is not None and args.rows < 1:
        raise ToolError(f"--rows must be at least 1, got {args.rows}")
    state = _stack_for(args)
    key = _simulate(
        state, dataset=args.dataset or state.dataset, strength=args.strength, seed=args.seed, rows=args.rows
    )
    print(key)
    return 0


def _simulate(state: Stack, *, dataset: str, strength: float, seed: int | None, rows: int | None = None) -> str:
    from mlops_core.data import load_dataset_config, read_table, simulate_drift, write_batch

    store = _data_store(state)
    config = load_dataset_config(store, dataset)
    baseline = read_table(store, config.baseline_key, categorical=config.categorical or [])
    batch, info = simulate_drift(baseline, target=config.target, seed=seed, strength=strength, rows=rows)
    key = write_batch(store, dataset, batch, config.format, seed=info.seed)
    _say(f"wrote {len(batch)} rows to {store.uri(key)} (seed {info.seed}, strength {strength})")
    return key


def _data_store(state: Stack) -> Any:
    return dataset_commands.data_store(state)


def cmd_demo(args: argparse.Namespace) -> int:
    """Three runs in a row: a first promotion, a run without drift, then drift → retrain → gates → decision."""
    state_dir = args.state_dir.resolve()
    args.dataset = args.dataset or _default_dataset()
    started_here = False
    state = StackState.saved(state_dir)
    if state is not None and state.origin == "demo" and not state.running():
        _say(f"starting a fresh demo stack: the previous demo's state in {state_dir} is wiped")
        cmd_reset(args)
        state = None
    if state is not None and state.dataset != args.dataset:
        raise ToolError(
            f"the stack in {state_dir} watches {state.dataset!r}, not {args.dataset!r}: `mlops reset` wipes it, "
            "or run the demo with another --state-dir"
        )
    if state is None or not set(services.SERVICES) <= set(state.running()):
        cmd_up(argparse.Namespace(**{**vars(args), "detach": True, "origin": "demo" if state is None else None}))
        started_here = True
    state = StackState.load(state_dir)
    try:
        cmd_seed(args)
        sfn, s3, _ = _clients(state)
        codes = []
        plan = [
            ("1/3 drifted batch, no Production model yet: expect a first promotion", 1.0),
            ("2/3 batch drawn like the baseline: expect no drift", 0.0),
            ("3/3 drifted batch: drift → retrain → gates → decision", 1.5),
        ]
        from mlops_local import runs

        for title, strength in plan:
            print(f"\n== run {title}")
            key = _simulate(state, dataset=state.dataset, strength=strength, seed=None)
            arn, _ = runs.start_run(sfn, state.outputs["StateMachineArn"], {"batch_key": key})
            codes.append(_follow_and_summarise(state, sfn, s3, arn))
        print(f"\nreports: {state.outputs.get('ReportsWebsiteUrl')}/reports/  MLflow: {state.mlflow_url}")
        return max(codes)
    finally:
        if started_here and not args.keep:
            _stop(StackState.load(state_dir))
            _say("stack stopped (use --keep to leave it running)")


# ---------------------------------------------------------------- helpers


def _stack_for(args: argparse.Namespace) -> Stack:
    """The stack a command works on: the one --target names; else the embedded stack when one is recorded in
    the state folder; else the one LocalStack or AWS stack a deploy recorded there (see `deployments`). Either
    way it has `outputs`, `target()`, `dataset`, `mlflow_url` and `api_url`."""
    from mlops_local import deployments

    state_dir = args.state_dir.resolve()
    embedded = StackState.saved(state_dir) is not None
    chosen = deployments.choose(state_dir, getattr(args, "target", None), embedded=embedded)
    if chosen == EMULATOR:
        return _live_state(args)
    deployment = deployments.load(state_dir, chosen)
    args.unreachable_hint = deployment.unreachable_hint()
    return deployment


def _live_state(args: argparse.Namespace) -> StackState:
    state = StackState.load(args.state_dir.resolve())
    emulator = state.pids.get("emulator")
    if not emulator or not services.pid_alive(emulator):
        raise StackNotUpError("the emulator is not running: start the stack with `mlops up`")
    if not state.outputs:
        raise StackNotUpError("the stack is not deployed: run `mlops deploy`")
    return state


def _print_stack(state: Stack) -> None:
    if state.endpoint_url:
        print(f"  AWS endpoint   {state.endpoint_url}   (aws --endpoint-url {state.endpoint_url} …, awslocal …)")
    else:
        print(f"  AWS            region {state.target().region}, your own credentials")
    print(f"  MLflow         {state.mlflow_url}")
    print(f"  API            {state.api_url}")
    for key in ("StateMachineArn", "DataBucketName", "ReportsWebsiteUrl"):
        if key in state.outputs:
            print(f"  {key:14} {state.outputs[key]}")


def _default_dataset() -> str:
    return os.environ.get(environment.DATASET) or DEFAULT_DATASET


def _say(message: str) -> None:
    print(f"mlops: {message}", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where the local stack keeps state")
    parser.add_argument("--stack-name", default=DEFAULT_STACK)
    sub = parser.add_subparsers(dest="command")

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.set_defaults(handler=handler)
        return command

    up = add("up", cmd_up, "start emulator, deploy the stack, start MLflow and the API; keep the schedule live")
    up.add_argument("--detach", action="store_true", help="return once everything is up")
    up.add_argument("--ephemeral", action="store_true", help="a new stack whose emulator keeps nothing across restarts")
    up.add_argument("--dataset", default=None, help=f"the dataset a new stack watches (default {DEFAULT_DATASET})")
    add("down", cmd_down, "stop everything `up` started; the stack's state stays for the next `up`")
    add("reset", cmd_reset, "wipe the stack's state (the stack must be down)")

    deploy = add("deploy", cmd_deploy, "package and (re)deploy template.yaml")
    deploy.add_argument("--target", choices=TARGETS, default=None)
    deploy.add_argument("--endpoint-url", default=None)
    deploy.add_argument("--image-uri", default=None, help="container image for the aws target")
    deploy.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")

    run = add("run", cmd_run, "start a pipeline execution and follow it")
    run.add_argument("--input", help="execution input as JSON")
    run.add_argument("--batch", help="S3 key of the batch to check (default: the newest)")
    run.add_argument("--no-wait", action="store_true")

    trigger = add("trigger", cmd_trigger, "fire the daily EventBridge rule now")
    trigger.add_argument("--rule", help="rule name (default: the daily pipeline rule)")
    trigger.add_argument("--wait", action="store_true", help="follow the execution it starts")

    status = add("status", cmd_status, "what is running, the stack outputs, recent executions")
    logs = add("logs", cmd_logs, "a function's CloudWatch log lines")
    logs.add_argument("step", help=", ".join(STEP_FUNCTIONS))
    logs.add_argument("--since-minutes", type=float, default=60)
    logs.add_argument("--follow", "-f", action="store_true")
    add("dev-api", cmd_dev_api, "serve the app under `chalice local` on MLOPS_API_PORT, for developing the app")
    env = add("env", cmd_env, "print shell exports for aws, awslocal and curl")

    seed = add("seed", cmd_seed, "upload the stack's dataset and those `dataset add` recorded (baseline, config)")
    seed.add_argument("--dataset", default=None, help=f"only this one: {', '.join(DEMO_DATASETS)} or one added here")
    simulate = add("simulate", cmd_simulate, "write a new (drifted) batch under current/")
    simulate.add_argument("--dataset", default=None, help="default: the stack's")
    simulate.add_argument("--strength", type=float, default=1.0, help="0 = no drift")
    simulate.add_argument("--seed", type=int, default=None, help="default: time-based")
    simulate.add_argument("--rows", type=int, default=None, help="batch size (default: the baseline's)")
    for command in (run, trigger, status, logs, env, seed, simulate):
        command.add_argument(
            "--target",
            choices=TARGETS,
            default=None,
            help="the stack to work on (default: the embedded stack if one is recorded, else the one deploy recorded)",
        )

    dataset = add("dataset", cmd_dataset, "your own data: `dataset add`, `dataset batch`, `dataset list`")
    dataset_commands.add_arguments(dataset, TARGETS)

    demo = add("demo", cmd_demo, "up, seed, three runs with summaries, down")
    demo.add_argument("--dataset", default=None)
    demo.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    return parser


if __name__ == "__main__":
    sys.exit(main())
