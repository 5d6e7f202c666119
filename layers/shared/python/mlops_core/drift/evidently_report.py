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


def evidently_data_definition(
    reference: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
) -> DataDefinition:
    """The DataDefinition that types every column exactly as `build_profile` does from the same inputs.

    Every other list is set empty so Evidently infers nothing of its own (it would add text columns, say).
    The target goes in as a plain column: Evidently's DataDriftPreset gives it no special test anyway.
    """
    from evidently import DataDefinition

    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical)
    return DataDefinition(
        numerical_columns=list(kinds.numerical),
        categorical_columns=list(kinds.categorical),
        text_columns=[],
        datetime_columns=[],
        unknown_columns=[],
        list_columns=[],
    )


def _bounded(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame


def _sample_note(reference_rows: tuple[int, int], current_rows: tuple[int, int]) -> str:
    return (
        '<div style="margin:8px;padding:10px 14px;border:1px solid #d9a400;background:#fff6d6;'
        'font-family:sans-serif;font-size:14px">'
        "<strong>Sampled report.</strong> This report was computed on a random sample of "
        f"{reference_rows[0]:,} of {reference_rows[1]:,} reference rows and "
        f"{current_rows[0]:,} of {current_rows[1]:,} current rows. "
        "The drift verdict of the pipeline comes from the full data, not from this sample."
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
) -> DriftReportHtml:
    """Evidently's DataDriftPreset report on at most `max_rows` randomly sampled rows of each side."""
    if max_rows < 1:
        raise InvalidRequestError(f"max_rows must be at least 1, got {max_rows!r}", "max_rows")
    if len(reference) == 0 or len(current) == 0:
        raise DataValidationError("reference data and current batch must both have rows")
    definition = evidently_data_definition(reference, target=target, numerical=numerical, categorical=categorical)
    missing = [c for c in [*definition.numerical_columns, *definition.categorical_columns] if c not in current]
    if missing:
        raise DataValidationError(f"current batch lacks monitored column(s) {missing}")
    ref_sample = _bounded(reference, max_rows, seed)
    cur_sample = _bounded(current, max_rows, seed)

    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    try:
        snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
            Dataset.from_pandas(cur_sample, data_definition=definition),
            Dataset.from_pandas(ref_sample, data_definition=definition),
        )
    except ValueError as error:  # Evidently's way of refusing, e.g. a column with no value in the sample
        raise DataValidationError(f"Evidently could not build the drift report: {error}") from error
    html = with_content_security_policy(make_script_data_inert(snapshot.get_html_str(as_iframe=False)))
    sampled = len(ref_sample) < len(reference) or len(cur_sample) < len(current)
    if sampled:
        html = _inject_at_top(html, _sample_note((len(ref_sample), len(reference)), (len(cur_sample), len(current))))
    return DriftReportHtml(html, sampled, {"reference": len(ref_sample), "current": len(cur_sample)})
