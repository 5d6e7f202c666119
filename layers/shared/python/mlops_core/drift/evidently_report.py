"""Evidently's own DataDriftPreset HTML, for people to read. The verdict never comes from here.

The page is public on the reports website, and Evidently writes the column names and category values into an
inline script as plain JSON: a name holding `</script>` would end the script and become markup. So the data is
made inert before the page leaves here (`<`, `>`, `&` and the JavaScript line separators as `\\u` escapes,
which JSON reads back as the same strings), the page is refused if its scripts are not the ones Evidently
writes, and it carries a Content-Security-Policy that lets only those scripts run, by hash.

Evidently is imported inside these functions only: its import alone takes seconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_core.drift.kinds import resolve_column_kinds
from mlops_core.drift.schema import cast_column, category_keys, has_value
from mlops_core.exceptions import DataValidationError, InvalidRequestError
from mlops_core.report.csp import inline_scripts, meta_tag, page_policy

if TYPE_CHECKING:
    import pandas as pd
    from evidently import DataDefinition


@dataclass(frozen=True)
class DriftReportHtml:
    html: str
    sampled: bool
    rows_used: dict[str, int]  # {"reference": ..., "current": ...}


def _definition(numerical: list[str], categorical: list[str]) -> DataDefinition:
    from evidently import DataDefinition

    # Every other list is set empty so Evidently infers nothing of its own (it would add text columns, say).
    return DataDefinition(
        numerical_columns=numerical,
        categorical_columns=categorical,
        text_columns=[],
        datetime_columns=[],
        unknown_columns=[],
        list_columns=[],
    )


def evidently_data_definition(
    reference: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
) -> DataDefinition:
    """The DataDefinition that types every column exactly as `build_profile` does from the same inputs.

    Text columns are left out, as `build_profile` excludes them; columns with no value are not (Evidently
    refuses them: `evidently_inputs` leaves them out). The target goes in as a plain column:
    Evidently's DataDriftPreset gives it no special test anyway.
    """
    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical)
    return _definition(list(kinds.numerical), list(kinds.categorical))


@dataclass(frozen=True)
class EvidentlyInputs:
    """Both sides as `detect_drift` sees them, and the column mapping that makes Evidently type them alike."""

    reference: pd.DataFrame
    current: pd.DataFrame
    definition: DataDefinition
    all_missing: dict[str, str]  # column -> the side(s) without a value, left out of the mapping


def evidently_inputs(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
) -> EvidentlyInputs:
    """The monitored columns of both sides cast to the reference's types (as `build_profile` and
    `detect_drift` cast them), with the mapping `evidently_data_definition` gives, minus the columns with no
    value on a side: Evidently refuses those, and `detect_drift` reports them as all-missing instead."""
    import pandas as pd

    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical)
    missing = [c for c in kinds.columns if c not in current.columns]
    if missing:
        raise DataValidationError(f"current batch lacks monitored column(s) {missing}")
    ref_columns, cur_columns, all_missing = {}, {}, {}
    for name in kinds.columns:
        kind = "num" if name in kinds.numerical else "cat"
        keys = category_keys(reference[name]) if kind == "cat" else None
        ref_columns[name] = cast_column(reference[name], name, kind, keys, source="reference data")
        cur_columns[name] = cast_column(current[name], name, kind, keys, source="current batch")
        sides = [
            side
            for side, col in (("reference", ref_columns[name]), ("current", cur_columns[name]))
            if not has_value(col)
        ]
        if sides:
            all_missing[name] = "both" if len(sides) == 2 else sides[0]
    definition = _definition(
        [c for c in kinds.numerical if c not in all_missing], [c for c in kinds.categorical if c not in all_missing]
    )
    return EvidentlyInputs(
        pd.DataFrame(ref_columns, index=reference.index),
        pd.DataFrame(cur_columns, index=current.index),
        definition,
        all_missing,
    )


def _bounded(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame


_NOTE_STYLE = (
    "margin:8px;padding:10px 14px;border:1px solid #d9a400;background:#fff6d6;font-family:sans-serif;font-size:14px"
)


def _sample_note(reference_rows: tuple[int, int], current_rows: tuple[int, int]) -> str:
    return (
        f'<div style="{_NOTE_STYLE}">'
        "<strong>Sampled report.</strong> This report was computed on a random sample of "
        f"{reference_rows[0]:,} of {reference_rows[1]:,} reference rows and "
        f"{current_rows[0]:,} of {current_rows[1]:,} current rows. "
        "The drift verdict of the pipeline comes from the full data, not from this sample."
        "</div>"
    )


def _missing_note(all_missing: dict[str, str]) -> str:
    import html

    where = {"reference": "the reference", "current": "the current batch", "both": "either side"}
    listed = ", ".join(f"{html.escape(str(name))} (none in {where[side]})" for name, side in all_missing.items())
    return (
        f'<div style="{_NOTE_STYLE}">'
        f"<strong>Columns without any value</strong> are not in this report: {listed}. "
        "The pipeline reports them as all missing and leaves them out of the drifted share."
        "</div>"
    )


def _inject_at_top(html: str, note: str) -> str:
    body = html.find("<body")
    if body == -1:
        return note + html
    end = html.find(">", body) + 1
    return html[:end] + note + html[end:]


# Evidently's standalone page: one data script declaring the dashboard and its additional graphs, each as one
# line of JSON (json.dumps without indent writes no raw line break), then its library and the call drawing it.
_DATA_VARIABLE = re.compile(r"\n    var (metric_[0-9a-f]+) = ")
_EVIDENTLY_SCRIPTS = 4
# Inside a JSON string these escapes read back as the same characters; in HTML they are not markup.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


class UnsafeReportError(DataValidationError):
    """Evidently's page is not laid out as expected, so it cannot be made safe to publish."""


def _inert_json(page: str, start: int) -> tuple[str, int]:
    """The JSON statement starting at `start`, escaped for a script element, and where it ends."""
    end = page.find("\n", start)
    statement = page[start:end] if end != -1 else ""
    if not statement.endswith(";"):
        raise UnsafeReportError("Evidently's report data is not one JSON statement per line")
    try:
        json.loads(statement[:-1])
    except ValueError:
        raise UnsafeReportError("Evidently's report data is not valid JSON") from None
    return statement.translate(_SCRIPT_SAFE), end


def make_script_data_inert(page: str) -> str:
    """Evidently's page with the JSON of its data script escaped, so no value can end the script.

    Raises UnsafeReportError when the page does not hold exactly Evidently's scripts afterwards.
    """
    found = _DATA_VARIABLE.search(page)
    if found is None:
        raise UnsafeReportError("Evidently's report has no data script")
    dashboard, out = found.group(1), [page[: found.end()]]
    dashboard_json, position = _inert_json(page, found.end())
    out.append(dashboard_json)
    graphs = f"\n    var additional_graphs_{dashboard} = "
    if not page.startswith(graphs, position):
        raise UnsafeReportError("Evidently's report data lacks its additional graphs")
    graphs_json, position = _inert_json(page, position + len(graphs))
    out += [graphs, graphs_json, page[position:]]
    inert = "".join(out)
    # Every script element ends at the first `</script`: counting them counts the scripts a browser sees.
    closed = len(re.findall(r"</script", inert, re.IGNORECASE))
    if not closed == len(inline_scripts(inert)) == _EVIDENTLY_SCRIPTS:
        raise UnsafeReportError(f"Evidently's report holds {closed} scripts, not the {_EVIDENTLY_SCRIPTS} it writes")
    return inert


def with_content_security_policy(page: str) -> str:
    """The page with a CSP meta tag at the top of its head, allowing exactly its inline scripts by hash."""
    tag = meta_tag(page_policy(scripts=inline_scripts(page), fonts=True))
    head = re.search(r"<head>\s*(<meta charset=[^>]*>)?", page, re.I)
    if head is None:
        raise UnsafeReportError("Evidently's report has no <head>")
    return page[: head.end()] + tag + page[head.end() :]


def render_drift_report_html(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
    max_rows: int = 20000,
    seed: int = 0,
    drift_share: float = 0.5,
    reference_rows: int | None = None,
) -> DriftReportHtml:
    """Evidently's DataDriftPreset report on at most `max_rows` randomly sampled rows of each side, cast
    and typed as the verdict's tests see them (`evidently_inputs`).

    `reference_rows` is the size of the whole reference when `reference` is already a sample of it (the
    pipeline stores a bounded one), so the page and `sampled` say so.
    """
    if max_rows < 1:
        raise InvalidRequestError(f"max_rows must be at least 1, got {max_rows!r}", "max_rows")
    if len(reference) == 0 or len(current) == 0:
        raise DataValidationError("reference data and current batch must both have rows")
    whole_reference = max(reference_rows or 0, len(reference))
    ref_sample = _bounded(reference, max_rows, seed)
    cur_sample = _bounded(current, max_rows, seed)
    inputs = evidently_inputs(ref_sample, cur_sample, target=target, numerical=numerical, categorical=categorical)

    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    try:
        snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
            Dataset.from_pandas(inputs.current, data_definition=inputs.definition),
            Dataset.from_pandas(inputs.reference, data_definition=inputs.definition),
        )
    except ValueError as error:  # Evidently's way of refusing, e.g. no column left to test
        raise DataValidationError(f"Evidently could not build the drift report: {error}") from error
    html = with_content_security_policy(make_script_data_inert(snapshot.get_html_str(as_iframe=False)))
    if inputs.all_missing:
        html = _inject_at_top(html, _missing_note(inputs.all_missing))
    sampled = len(ref_sample) < whole_reference or len(cur_sample) < len(current)
    if sampled:
        html = _inject_at_top(html, _sample_note((len(ref_sample), whole_reference), (len(cur_sample), len(current))))
    return DriftReportHtml(html, sampled, {"reference": len(ref_sample), "current": len(cur_sample)})
