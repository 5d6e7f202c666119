"""A user's own baseline or batch, checked on the user's machine before anything goes to S3.

Pure pandas: a file comes in as bytes plus the name it is reported under. Every refusal is one
DataValidationError line that names the file, the column and the fix, so a mistake costs one command rather
than a failed run. Both kinds of file also pass `validate_batch`, the check the pipeline itself makes, so what
is accepted here is accepted by the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mlops_core.data.config import FORMATS, DatasetConfig, Format
from mlops_core.data.io import format_of_key, frame_from_bytes
from mlops_core.data.publish import baseline_key
from mlops_core.data.validate import column_kinds, dtypes_of, feature_columns, validate_batch
from mlops_core.drift.kinds import infer_kind
from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

FORMAT_NAMES: dict[str, str] = {"csv": "CSV", "parquet": "Parquet"}
_LISTED = 40  # column names shown in one message before "… (N in all)"
_ROWS_SHOWN = 3


@dataclass(frozen=True)
class Intake:
    """A checked file: the frame to upload (the dataset's columns only), what was left out, and its classes."""

    frame: pd.DataFrame
    labels: list[str]  # the target's classes, as text, sorted
    dropped: list[str] = field(default_factory=list)  # columns of the file that are not the dataset's
    new_labels: list[str] = field(default_factory=list)  # batch labels the baseline never had (when allowed)
    text: list[str] = field(default_factory=list)  # features given to the model, but not tested for drift


def table_format(source: str, fmt: str | None = None) -> Format:
    """The format given, else the one the file's name says (.csv, .parquet, .pq)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise DataValidationError(f"{source}: format {fmt!r} is not one of {', '.join(FORMATS)}: pass --format csv")
        return fmt  # type: ignore[return-value]
    found = format_of_key(source)
    if found is None:
        raise DataValidationError(
            f"{source}: cannot tell the format from the file name: name it .csv or .parquet, or pass --format csv "
            "or --format parquet"
        )
    return found


def parse_table(body: bytes, *, source: str, fmt: Format, categorical: Iterable[str] = ()) -> pd.DataFrame:
    """The file as a frame with text column names; refused when it is empty, headless, rowless or unreadable."""
    kind = FORMAT_NAMES[fmt]
    if not body.strip():
        raise DataValidationError(
            f"{source}: the file is empty (no header, no rows): give a {kind} file with a header line and at "
            "least one row"
        )
    try:
        df = frame_from_bytes(body, fmt, categorical=categorical, source=source)
    except DataValidationError as exc:
        detail = _one_line(str(exc).removeprefix(f"{source} is not readable {fmt}: "))
        raise DataValidationError(
            f"{source}: cannot be read as {kind} ({detail}): give a CSV or Parquet file, and pass --format when "
            "its name does not say which"
        ) from None
    df.columns = [str(c) for c in df.columns]
    if len(df.columns) == 0:
        raise DataValidationError(f"{source}: no columns (no header line): put the column names on the first line")
    if len(df.index) == 0:
        raise DataValidationError(
            f"{source}: no rows under the header ({_names(df.columns)}): add at least one row of data"
        )
    return df


def prepare_baseline(
    body: bytes,
    *,
    source: str,
    name: str,
    target: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    fmt: str | None = None,
) -> tuple[Intake, DatasetConfig]:
    """A baseline file checked for a new dataset `name`, and that dataset's configuration.

    `features` default to every column but the target; `categorical` adds to the non-numeric features, which
    are categorical anyway. Columns that are neither a feature nor the target are left out of the upload (and
    listed in `Intake.dropped`): batches are checked against exactly the dataset's columns."""
    file_format = table_format(source, fmt)
    df = parse_table(body, source=source, fmt=file_format, categorical=categorical or ())
    columns = list(df.columns)
    if target not in columns:
        raise DataValidationError(
            f"{source}: no column {target!r} for --target; its columns are {_names(columns)}: pass one of them "
            "as --target"
        )
    chosen = _check_features(source, columns, target, features)
    _check_categorical(source, columns, target, chosen, features is not None, categorical or [])
    labels = _check_target(source, df[target], target)
    empty = [c for c in chosen if df[c].isna().all()]
    if empty:
        raise DataValidationError(
            f"{source}: {_plural(empty, 'column')} {_names(empty)} {_has(empty)} no values (every row is empty): "
            f"drop {_it(empty)} from the file or leave {_it(empty)} out of --features"
        )
    kept = [c for c in columns if c in chosen or c == target]
    frame = df[kept]
    given = DatasetConfig(
        name=name,
        target=target,
        baseline_key=baseline_key(name, file_format),
        features=chosen,
        categorical=list(categorical or []),
        format=file_format,
    )
    # Every non-numeric feature is a category to the model whatever the flags say. dataset.json lists those
    # the drift check tests as categories: all but free text (mostly distinct values, as a name or a ticket
    # number), which the check excludes when no one lists it, since a batch of new names always "drifts".
    kinds = column_kinds(given, dtypes_of(frame))
    text = [c for c in chosen if kinds[c] == "cat" and c not in given.categorical and infer_kind(frame[c]) == "text"]
    config = replace(given, categorical=[c for c in chosen if kinds[c] == "cat" and c not in text])
    validate_batch(frame, config, dtypes_of(frame), source=source)
    return Intake(frame=frame, labels=labels, dropped=[c for c in columns if c not in kept], text=text), config


def prepare_batch(
    body: bytes,
    *,
    source: str,
    config: DatasetConfig,
    baseline: pd.DataFrame,
    fmt: str | None = None,
    allow_new_labels: bool = False,
) -> Intake:
    """A batch file checked against dataset `config` and its baseline frame: the dataset's columns, labels the
    baseline had (others only with `allow_new_labels`: a new class is sometimes real drift), then the
    pipeline's own `validate_batch`. Columns the dataset does not use are left out and listed."""
    file_format = table_format(source, fmt)
    df = parse_table(body, source=source, fmt=file_format, categorical=config.categorical or ())
    columns = list(df.columns)
    reference = dtypes_of(baseline)
    expected = [*feature_columns(config, reference), config.target]
    if config.target not in columns:
        raise DataValidationError(
            f"{source}: no column {config.target!r}, the target of dataset {config.name!r} (its columns are "
            f"{_names(columns)}): add the true labels as column {config.target!r}"
        )
    missing = [c for c in expected if c not in columns]
    if missing:
        raise DataValidationError(
            f"{source}: lacks {_plural(missing, 'column')} {_names(missing)} of dataset {config.name!r}: add "
            f"{_it(missing)} (the dataset's columns are {_names(expected)})"
        )
    known = classes(baseline[config.target])
    labels = classes(df[config.target])
    if labels and not set(labels) & set(known):
        # The pipeline refuses this whatever the flags: it is another spelling of the classes, not drift.
        raise DataValidationError(
            f"{source}: none of the target {config.target!r} labels is one the baseline had: got {_names(labels)}, "
            f"the baseline's are {_names(known)}: spell the labels as the baseline does"
        )
    frame = df[[c for c in columns if c in expected]]
    # The pipeline's own check decides which labels are new (it may compare them more leniently than text).
    report = validate_batch(frame, config, reference, reference_labels=known, source=source)
    unseen = list(report.unseen_labels)
    if unseen and not allow_new_labels:
        raise DataValidationError(
            f"{source}: the target {config.target!r} has {'a label' if len(unseen) == 1 else 'labels'} the "
            f"baseline never had: {_names(unseen)} (the baseline's: {_names(known)}): correct "
            f"{_it(unseen)}, or pass --allow-new-labels if the class is new on purpose"
        )
    dropped = [c for c in columns if c not in expected]
    return Intake(frame=frame, labels=labels, dropped=dropped, new_labels=unseen)


def classes(labels: pd.Series) -> list[str]:
    """The distinct labels of a target column, as text (how the pipeline compares them), sorted."""
    return sorted({str(v) for v in labels.dropna().unique()})


def _check_features(source: str, columns: list[str], target: str, features: Sequence[str] | None) -> list[str]:
    if features is None:
        chosen = [c for c in columns if c != target]
    else:
        twice = sorted({c for c in features if list(features).count(c) > 1})
        if twice:
            raise DataValidationError(f"{source}: --features lists {_names(twice)} twice: name each column once")
        if target in features:
            raise DataValidationError(
                f"{source}: --features includes the target {target!r}: leave it out of --features"
            )
        _require_columns(source, columns, features, "--features")
        chosen = list(features)
    if not chosen:
        raise DataValidationError(
            f"{source}: no feature columns, only the target {target!r}: add the columns a model predicts from"
        )
    return chosen


def _check_categorical(
    source: str, columns: list[str], target: str, chosen: list[str], explicit: bool, categorical: Sequence[str]
) -> None:
    if target in categorical:
        raise DataValidationError(
            f"{source}: --categorical includes the target {target!r}: the target is a class label anyway; leave "
            "it out of --categorical"
        )
    _require_columns(source, columns, categorical, "--categorical")
    outside = [c for c in categorical if c not in chosen]
    if outside and explicit:
        raise DataValidationError(
            f"{source}: --categorical names {_names(outside)} that --features leaves out: add {_it(outside)} to "
            f"--features or drop {_it(outside)} from --categorical"
        )


def _require_columns(source: str, columns: list[str], named: Sequence[str], flag: str) -> None:
    missing = [c for c in named if c not in columns]
    if missing:
        raise DataValidationError(
            f"{source}: {flag} names {_names(missing)}, not {'a column' if len(missing) == 1 else 'columns'} of "
            f"the file (its columns are {_names(columns)}): correct {'the name' if len(missing) == 1 else 'the names'} "
            f"or leave {_it(missing)} out"
        )


def _check_target(source: str, labels: pd.Series, target: str) -> list[str]:
    if labels.isna().all():
        raise DataValidationError(
            f"{source}: the target {target!r} has no values (every row is empty): fill it in or choose another --target"
        )
    unlabeled = [i + 1 for i, missing in enumerate(labels.isna()) if missing]
    if unlabeled:
        shown = ", ".join(str(i) for i in unlabeled[:_ROWS_SHOWN])
        raise DataValidationError(
            f"{source}: the target {target!r} is empty in {len(unlabeled)} rows (data rows {shown}"
            f"{', …' if len(unlabeled) > _ROWS_SHOWN else ''}): label those rows or drop them"
        )
    found = classes(labels)
    if len(found) < 2:
        raise DataValidationError(
            f"{source}: the target {target!r} has one class only ({found[0]!r}): a classifier needs at least two; "
            "add rows of another class or choose another --target"
        )
    return found


def _names(names: Iterable[object]) -> str:
    shown = [repr(str(n)) for n in names]
    if len(shown) > _LISTED:
        return ", ".join(shown[:_LISTED]) + f", … ({len(shown)} in all)"
    return ", ".join(shown)


def _plural(items: Sequence[object], word: str) -> str:
    return word if len(items) == 1 else f"{word}s"


def _has(items: Sequence[object]) -> str:
    return "has" if len(items) == 1 else "have"


def _it(items: Sequence[object]) -> str:
    return "it" if len(items) == 1 else "them"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
