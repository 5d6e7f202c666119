"""Where things live in S3. One function per kind of object, so no key is spelled twice.

Runs only ever add objects under their own run id: nothing a run writes overwrites an earlier object.
"""

from __future__ import annotations

import re

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def is_safe_id(value: str) -> bool:
    """Run ids and report ids appear in S3 keys, URLs and HTML: letters, digits, `_`, `.`, `-` only."""
    return bool(_SAFE_ID.match(value)) and ".." not in value


# data bucket
def dataset_config_key(dataset: str) -> str:
    return f"datasets/{dataset}/dataset.json"


def current_prefix(dataset: str) -> str:
    return f"datasets/{dataset}/current/"


def profile_prefix(dataset: str, baseline_etag: str) -> str:
    """The baseline's reference profile lives under its ETag: a new baseline gets a new profile, never an edit."""
    return f"profiles/{dataset}/{baseline_etag.strip(chr(34))}/"


def split_key(run_id: str, part: str) -> str:
    return f"splits/{run_id}/{part}.parquet"


def ledger_prefix(dataset: str, alpha: float) -> str:
    """The offline tests of one dataset at one target α: a stream of its own for the spending rule."""
    return f"decisions/{dataset}/alpha-{alpha:g}/"


def ledger_entry_key(dataset: str, alpha: float, t: int) -> str:
    """Test number t (1, 2, ...): the number is the slot, taken with a create-only write."""
    return f"{ledger_prefix(dataset, alpha)}{t:06d}.json"


def online_evidence_key(dataset: str, staging_version: str, run_id: str) -> str:
    """One online look at a staged candidate, by the run that looked."""
    return f"decisions/{dataset}/online/{staging_version}/{run_id}.json"


# reports bucket
REPORTS_ROOT = "reports/"  # every run's reports, one folder per run id


# Every run on one page, rebuilt from the runs' report.json objects after each run; the bucket website's
# IndexDocument (index.html) serves it at reports/.
REPORT_INDEX_HTML_KEY = f"{REPORTS_ROOT}index.html"
REPORT_INDEX_JSON_KEY = f"{REPORTS_ROOT}index.json"


def report_prefix(run_id: str) -> str:
    return f"{REPORTS_ROOT}{run_id}/"


def report_json_key(run_id: str) -> str:
    return f"{report_prefix(run_id)}report.json"


def report_html_key(run_id: str) -> str:
    return f"{report_prefix(run_id)}report.html"


def drift_report_key(run_id: str) -> str:
    """Evidently's HTML sits beside the run report, so the reports website serves both."""
    return f"{report_prefix(run_id)}drift_report.html"
