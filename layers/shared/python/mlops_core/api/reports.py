"""Pipeline reports as the generate_report step leaves them in S3, at the keys mlops_core.layout gives."""

from __future__ import annotations

import json
from typing import Any

from mlops_core import layout
from mlops_core.exceptions import InvalidRequestError, NotFoundError
from mlops_core.report.csp import REPORT_POLICY, header_policy

# The run report page as the API serves it: the policy its meta tag states, plus what only a header can say
# (no framing); and no content-type guessing by the browser.
HTML_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": header_policy(REPORT_POLICY),
    "X-Content-Type-Options": "nosniff",
}


class ReportsReader:
    """Lists and reads the reports in one bucket; takes a boto3 S3 client so tests and tools can pass theirs."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def report_ids(self) -> list[str]:
        """Every report id, newest first.

        Ordered by when report.json was written: run ids are execution names, which the scheduler and the
        command line spell differently, so their text order is not time order. Nothing is overwritten, so
        the write time is the run's.
        """
        found = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=layout.REPORTS_ROOT):
            for item in page.get("Contents", []):
                run_id = _json_report_run_id(item["Key"])
                if run_id is not None:
                    found.append((item["LastModified"], run_id))
        return [run_id for _, run_id in sorted(found, reverse=True)]

    def summaries(self, base_url: str = "") -> list[dict[str, str]]:
        """One entry per report with the API links to its JSON and HTML forms."""
        return [
            {
                "report_id": run_id,
                "json_url": f"{base_url}/reports/{run_id}",
                "html_url": f"{base_url}/reports/{run_id}?format=html",
            }
            for run_id in self.report_ids()
        ]

    def latest_id(self) -> str:
        ids = self.report_ids()
        if not ids:
            raise NotFoundError("no pipeline report yet: run the pipeline first")
        return ids[0]

    def read_json(self, report_id: str) -> dict[str, Any]:
        body = self._read(layout.report_json_key(_checked(report_id)), report_id)
        try:
            return json.loads(body)
        except ValueError:
            raise NotFoundError(f"report {report_id!r} is not valid JSON") from None

    def read_html(self, report_id: str) -> str:
        return self._read(layout.report_html_key(_checked(report_id)), report_id).decode("utf-8", "replace")

    def _read(self, key: str, report_id: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise NotFoundError(f"no report {report_id!r}") from None


def _json_report_run_id(key: str) -> str | None:
    """The run whose JSON report is at `key`, None for any other object."""
    run_id = key[len(layout.REPORTS_ROOT) :].partition("/")[0]
    return run_id if layout.is_safe_id(run_id) and key == layout.report_json_key(run_id) else None


def _checked(report_id: str) -> str:
    if not layout.is_safe_id(report_id):
        raise InvalidRequestError("report id may hold only letters, digits, '_', '.' and '-'", "report_id")
    return report_id
