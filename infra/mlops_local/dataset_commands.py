"""`mlops dataset add|batch|list` and `mlops seed`: a user's own data into the stack's data bucket in one command.

Files are checked on this machine first (`mlops_core.data.intake`), then go through the same code as the demo
sets (`publish_dataset`, `write_batch`), so a dataset added here is one the pipeline reads like any other. What
`add` uploaded is also recorded in the state folder (`dataset_records`), and `seed` uploads it again to a stack
that lost it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_core import layout
from mlops_core.data import (
    DEMO_DATASETS,
    DatasetConfig,
    ObjectExistsError,
    load_dataset_config,
    read_table,
    write_batch,
)
from mlops_core.data.demo_datasets import build
from mlops_core.data.intake import classes, prepare_baseline, prepare_batch
from mlops_core.data.io import frame_from_bytes, frame_to_bytes
from mlops_core.data.publish import conflicting_keys, publish_dataset, same_baseline
from mlops_core.exceptions import MlopsError, NotFoundError

from mlops_local import dataset_records
from mlops_local.exceptions import StackNotUpError, ToolError
from mlops_local.services import StackState

if TYPE_CHECKING:
    from mlops_core.adapters import S3ObjectStore

    from mlops_local.cli import Stack

FindStack = Callable[[], "Stack"]
_CONFIG_KEY = re.compile(r"^datasets/([^/]+)/dataset\.json$")
REPLACING = (
    "the next run builds a new reference profile from the new baseline (profiles are keyed by the baseline's "
    "ETag and the columns' roles) and retrains on it; registered models stay, and Production serves until a "
    "candidate beats it"
)


def add_arguments(command: argparse.ArgumentParser, targets: tuple[str, ...]) -> None:
    """The `mlops dataset` subcommands, on the parser cli.py registered."""

    def usage(_args: argparse.Namespace, _find_stack: FindStack) -> int:
        command.print_help()
        return 2

    command.set_defaults(dataset_handler=usage)
    sub = command.add_subparsers(dest="dataset_command")
    add = sub.add_parser("add", help="check a baseline file here, then upload it and its dataset.json")
    add.add_argument("name", help="the dataset's name (letters, digits, _ . -)")
    add.add_argument("--baseline", required=True, type=Path, metavar="FILE", help="a CSV or Parquet file with a header")
    add.add_argument("--target", dest="target_column", required=True, metavar="COLUMN", help="the label column")
    add.add_argument(
        "--features", metavar="A,B,...", help="comma-separated feature columns (default: every column but the target)"
    )
    add.add_argument(
        "--categorical", metavar="C,...", help="comma-separated categorical features (non-numeric ones are anyway)"
    )
    add.add_argument("--format", choices=["csv", "parquet"], help="default: from the file name")
    add.add_argument("--replace", action="store_true", help="replace a dataset of this name that holds other data")
    add.set_defaults(dataset_handler=cmd_add)
    batch = sub.add_parser("batch", help="check a labelled batch against a dataset, then upload it for a run")
    batch.add_argument("name", help="the dataset it belongs to")
    batch.add_argument("file", type=Path, help="a CSV or Parquet file with the dataset's columns")
    batch.add_argument("--format", choices=["csv", "parquet"], help="default: from the file name")
    batch.add_argument("--allow-new-labels", action="store_true", help="accept labels the baseline never had")
    batch.set_defaults(dataset_handler=cmd_batch)
    listing = sub.add_parser("list", help="the datasets in the data bucket and those recorded here")
    listing.set_defaults(dataset_handler=cmd_list)
    for each in (add, batch, listing):
        # Not --target, as the other commands spell it: `dataset add --target` is the label column.
        each.add_argument(
            "--stack",
            dest="target",
            choices=targets,
            default=None,
            help="the stack to work on (default: the embedded stack if one is recorded, else the one deploy recorded)",
        )


def run(args: argparse.Namespace, find_stack: FindStack) -> int:
    return int(args.dataset_handler(args, find_stack))


def data_store(stack: Stack) -> S3ObjectStore:
    from mlops_core.adapters import S3ObjectStore

    return S3ObjectStore(stack.target().client("s3"), stack.outputs["DataBucketName"])


# ---------------------------------------------------------------- add


def cmd_add(args: argparse.Namespace, find_stack: FindStack) -> int:
    name = _usable_name(args.name)
    state_dir = args.state_dir.resolve()
    intake, config = prepare_baseline(
        _read(args.baseline),
        source=str(args.baseline),
        name=name,
        target=args.target_column,
        features=_names(args.features),
        categorical=_names(args.categorical),
        fmt=args.format,
    )
    body = frame_to_bytes(intake.frame, config.format)
    features = config.features or []
    say(
        f"{args.baseline}: {len(intake.frame)} rows, target {config.target!r} with {len(intake.labels)} classes "
        f"({', '.join(intake.labels)}), {len(features)} features ({len(config.categorical or [])} categorical)"
    )
    if intake.dropped:
        say(f"left out, not among --features: {', '.join(intake.dropped)}")
    if intake.text:
        say(
            f"text, not tested for drift (more than half of the values distinct; the model still uses "
            f"{'it' if len(intake.text) == 1 else 'them'}): {', '.join(intake.text)}; "
            "`--categorical` names one to test its values as categories"
        )
    _refuse_other_record(state_dir, config, body, replace=args.replace)
    try:
        stack = find_stack()
    except StackNotUpError as exc:
        where = dataset_records.save(state_dir, config, body)
        say(f"no stack to upload to ({exc})")
        say(
            f"recorded {name!r} in {where}: start a stack that watches it with `mlops up --detach --dataset {name}` "
            "(`mlops reset` first if a saved stack watches another dataset), then `mlops seed` uploads it"
        )
        return 0
    store = data_store(stack)
    replaced = _make_room(store, intake.frame, config, replace=args.replace)

    written = publish_dataset(store, intake.frame, config)
    where = dataset_records.save(state_dir, config, body)
    config_uri = store.uri(layout.dataset_config_key(name))
    if not written:
        say(f"dataset {name!r} is already in {config_uri} with this baseline and configuration: nothing changed")
    else:
        say(f"dataset {name!r}: baseline at {store.uri(config.baseline_key)}, configuration at {config_uri}")
    if replaced is not None:
        say(f"replaced the earlier dataset {name!r} (kept as older versions in the versioned bucket): {REPLACING}")
        if (replaced.target, replaced.features) != (config.target, config.features):
            say(
                f"its target or features changed: models registered for {name!r} were trained on the old columns and "
                f"cannot score the new ones, so runs fail at the comparison with Production; for a fresh model use "
                f"a new dataset name, or `mlops reset`"
            )
    say(f"recorded in {where}: `mlops seed` uploads it again to a stack that lost it (after `mlops reset`)")
    _say_how_to_watch(stack, name)
    return 0


def _refuse_other_record(state_dir: Path, config: DatasetConfig, body: bytes, *, replace: bool) -> None:
    recorded = dataset_records.load(state_dir, config.name)
    if recorded is None or replace:
        return
    old_config, old_body = recorded
    if old_config != config or not same_baseline(old_body, body, config):
        raise ToolError(
            f"dataset {config.name!r} was added here before from other data or with other options (recorded in "
            f"{dataset_records.folder(state_dir, config.name)}): pass --replace to replace it; {REPLACING}"
        )


def _make_room(store: Any, df: Any, config: DatasetConfig, *, replace: bool) -> DatasetConfig | None:
    """With --replace, delete the objects that hold another version of the dataset (the bucket is versioned:
    they stay as older versions) and return the configuration they had; without it, refuse."""

    conflicts = conflicting_keys(store, df, config)
    if not conflicts:
        return None
    if not replace:
        raise ToolError(
            f"dataset {config.name!r} already exists in {store.uri('datasets/' + config.name + '/')} with another "
            f"{' and '.join(_what(key) for key in conflicts)}: pass --replace to replace it; {REPLACING}"
        )
    try:
        previous = load_dataset_config(store, config.name)
    except MlopsError:
        previous = config  # no readable configuration: nothing to compare the columns with
    for key in conflicts:
        store.client.delete_object(Bucket=store.bucket, Key=key)
    return previous


def _what(key: str) -> str:
    return "configuration" if key.endswith("/dataset.json") else "baseline"


# ---------------------------------------------------------------- batch


def cmd_batch(args: argparse.Namespace, find_stack: FindStack) -> int:
    name = _usable_name(args.name)
    stack = find_stack()
    store = data_store(stack)
    config = _configured(store, name)
    baseline = read_table(store, config.baseline_key, categorical=config.categorical or [])
    intake = prepare_batch(
        _read(args.file),
        source=str(args.file),
        config=config,
        baseline=baseline,
        fmt=args.format,
        allow_new_labels=args.allow_new_labels,
    )
    if intake.dropped:
        say(f"left out, not columns of dataset {name!r}: {', '.join(intake.dropped)}")
    if intake.new_labels:
        say(f"labels the baseline never had, accepted: {', '.join(intake.new_labels)}")
    key = write_batch(store, name, intake.frame, config.format)
    say(f"wrote {len(intake.frame)} rows to {store.uri(key)}")
    print(key)
    if stack.dataset == name:
        say(f"run the pipeline on it: `mlops run --batch {key}`")
    else:
        say(f"no run of this stack reads it: the stack watches {stack.dataset!r}")
        _say_how_to_watch(stack, name, then="upload the batch again (a reset removes it)")
    return 0


def _configured(store: Any, name: str) -> DatasetConfig:
    try:
        return load_dataset_config(store, name)
    except NotFoundError as exc:
        raise ToolError(
            f"{exc}: add it with `mlops dataset add {name} --baseline FILE --target COLUMN` (or `mlops seed` for a "
            "demo dataset)"
        ) from None


# ---------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace, find_stack: FindStack) -> int:
    state_dir = args.state_dir.resolve()
    recorded = dataset_records.names(state_dir)
    try:
        stack: Stack | None = find_stack()
    except StackNotUpError as exc:
        stack = None
        say(f"{exc}; the datasets recorded in {state_dir / dataset_records.RECORDS_DIR}:")
    rows: dict[str, tuple[str, str, str, str]] = {}
    if stack is not None:
        store = data_store(stack)
        for name in _bucket_datasets(store):
            rows[name] = (*_describe(lambda name=name: _from_bucket(store, name)), "")
    for name in recorded:
        if name not in rows:
            note = "(recorded here, not in the bucket: `mlops seed` uploads it)" if stack is not None else ""
            rows[name] = (*_describe(lambda name=name: _from_record(state_dir, name)), note)
    if not rows:
        say("no datasets yet: `mlops seed` uploads the stack's demo dataset, `mlops dataset add` your own")
        return 0
    watched = stack.dataset if stack is not None else None
    width = max(len("dataset"), *(len(name) for name in rows))
    print(f"  {'dataset':<{width}} {'rows':>8}  {'target':<12} classes")
    for name, (count, target, labels, note) in sorted(rows.items()):
        mark = "*" if name == watched else " "
        print(f"{mark} {name:<{width}} {count:>8}  {target:<12} {labels}  {note}".rstrip())
    if watched is not None:
        print("(* the dataset the stack watches)")
    return 0


def _bucket_datasets(store: Any) -> list[str]:
    found = (_CONFIG_KEY.match(obj.key) for obj in store.list("datasets/"))
    return sorted(match.group(1) for match in found if match)


def _from_bucket(store: Any, name: str) -> tuple[DatasetConfig, Any]:
    config = load_dataset_config(store, name)
    return config, read_table(store, config.baseline_key, categorical=config.categorical or [])


def _from_record(state_dir: Path, name: str) -> tuple[DatasetConfig, Any]:
    record = dataset_records.load(state_dir, name)
    if record is None:
        raise ToolError(f"{name!r} is no longer recorded")
    config, body = record
    return config, frame_from_bytes(body, config.format, categorical=config.categorical or [])


def _describe(read: Callable[[], tuple[DatasetConfig, Any]]) -> tuple[str, str, str]:
    try:
        config, frame = read()
    except MlopsError as exc:
        return "-", "-", f"unreadable: {exc}"
    return str(len(frame)), config.target, ", ".join(classes(frame[config.target]))


# ---------------------------------------------------------------- seed


def cmd_seed(args: argparse.Namespace, stack: Stack) -> int:
    """Upload the stack's dataset (a demo, or one added here) and every other dataset added here, or only
    --dataset; each upload is a no-op when the bucket already holds it."""
    state_dir = args.state_dir.resolve()
    recorded = dataset_records.names(state_dir)
    wanted = [args.dataset] if args.dataset else [stack.dataset, *(n for n in recorded if n != stack.dataset)]
    store = data_store(stack)
    for name in wanted:
        record = dataset_records.load(state_dir, name)
        if name in DEMO_DATASETS:
            df, config = build(name)
        elif record is not None:
            config, body = record
            df = frame_from_bytes(body, config.format, categorical=config.categorical or [])
        elif name == stack.dataset and _exists(store, name):
            say(f"dataset {name}: already in {store.uri(layout.dataset_config_key(name))} (not recorded here)")
            continue
        else:
            raise ToolError(
                f"dataset {name!r} is neither a demo ({', '.join(DEMO_DATASETS)}) nor added in {state_dir}: add it "
                f"with `mlops dataset add {name} --baseline FILE --target COLUMN`"
            )
        try:
            written = publish_dataset(store, df, config)
        except ObjectExistsError as exc:
            fix = (
                "`mlops reset` starts afresh"
                if record is None
                else f"`mlops dataset add {name} --baseline FILE --target COLUMN --replace` puts the one you want"
            )
            raise ToolError(f"{exc}: the bucket holds another {name!r} than {_origin(record)}; {fix}") from None
        state = "uploaded" if written else "already there"
        say(f"dataset {name}: baseline at {store.uri(config.baseline_key)} ({state})")
    return 0


def _origin(record: object) -> str:
    return "the demo" if record is None else "the one recorded here"


def _exists(store: Any, name: str) -> bool:
    return store.head(layout.dataset_config_key(name)) is not None


# ---------------------------------------------------------------- helpers


def _say_how_to_watch(stack: Stack, name: str, *, then: str = "") -> None:
    if stack.dataset == name:
        say(f"the stack watches {name!r}: `mlops simulate` or `mlops dataset batch {name} FILE`, then `mlops run`")
        return
    if isinstance(stack, StackState):
        say(
            f"the stack watches {stack.dataset!r}, not {name!r}; to watch {name!r}: `mlops down`, `mlops reset` "
            f"(wipes the stack's runs and models, keeps the datasets added here), `mlops up --detach --dataset "
            f"{name}`, `mlops seed`" + (f", then {then}" if then else "")
        )
    else:
        target = stack.target().name
        say(
            f"the {target} stack watches {stack.dataset!r}, not {name!r}: deploy it again with "
            f"`mlops deploy --target {target} --parameter DatasetName={name}` and the parameters it was deployed with"
        )


def _usable_name(name: str) -> str:
    if not layout.is_safe_id(name):
        raise ToolError(
            f"dataset name {name!r} is not usable: letters, digits, '_', '.' and '-' only, starting with a letter "
            "or digit, at most 80 characters"
        )
    if name in DEMO_DATASETS:
        raise ToolError(f"{name!r} is a demo dataset (`mlops seed --dataset {name}`): choose another name")
    return name


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ToolError(f"{path}: no such file: check the path") from None
    except OSError as exc:
        raise ToolError(f"{path}: cannot read it ({exc.strerror or exc}): check the path and its permissions") from None


def say(message: str) -> None:
    print(f"mlops: {message}", flush=True)
