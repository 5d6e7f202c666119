"""The Content-Security-Policy of the report pages, and how Evidently's page is made safe to publish."""

from __future__ import annotations

import json
import re

import pytest
from mlops_core.drift.evidently_report import UnsafeReportError, make_script_data_inert, with_content_security_policy
from mlops_core.report.csp import REPORT_POLICY, header_policy, inline_scripts, meta_tag, page_policy, script_hash

HOSTILE = ["</script><script>alert(1)</script>", "<svg onload=alert(1)>", "\"'><img src=x onerror=alert(1)>"]
SEPARATORS = "line\u2028para\u2029graph & <!-- <script>"


def directives(policy: str) -> dict[str, str]:
    return {name: value for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))}


def test_script_hash_is_the_csp_sha256_source_expression() -> None:
    # SHA-256 of the empty string, as browsers print it in their CSP errors.
    assert script_hash("") == "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    assert script_hash("alert(1)") != script_hash("alert(1) ")


def test_page_policy_allows_only_the_given_scripts_and_closes_the_rest() -> None:
    policy = directives(page_policy(scripts=["b()", "a()", "a()"], fonts=True))
    assert policy == {
        "default-src": "'none'",
        "script-src": " ".join(sorted([script_hash("a()"), script_hash("b()")])),
        "style-src": "'unsafe-inline'",
        "img-src": "data:",
        "font-src": "data:",
        "base-uri": "'none'",
        "form-action": "'none'",
    }


def test_run_report_policy_runs_no_script_and_the_header_adds_frame_ancestors() -> None:
    policy = directives(REPORT_POLICY)
    assert "script-src" not in policy and policy["default-src"] == "'none'"
    assert "frame-ancestors" not in policy  # ignored in a meta tag: only the header sets it
    assert directives(header_policy(REPORT_POLICY)) == {**policy, "frame-ancestors": "'none'"}


def test_meta_tag_quotes_the_policy() -> None:
    assert meta_tag("default-src 'none'") == (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    )
    assert meta_tag('a "b" & c') == '<meta http-equiv="Content-Security-Policy" content="a &quot;b&quot; &amp; c">'


def evidently_page(name: str, graphs: dict) -> str:
    """A page from Evidently's own standalone template, with a small stand-in library."""
    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.utils import dashboard as template

    params = template.TemplateParams(
        dashboard_id="metric_0123456789abcdef0123456789abcdef",
        dashboard_info=DashboardInfo(name=name, widgets=[]),
        additional_graphs=graphs,
        embed_font=False,
        embed_lib=False,
    )
    # A stand-in for Evidently's 3.5 MB library, holding "<script><\/script>" as React's bundle does.
    return template.file_html_template(params).replace(
        "<!-- no embedded lib -->", '<script>var s = "<script><\\/script>"</script>'
    )


def data_values(page: str) -> list:
    """The two JSON values of the data script, as the browser's JavaScript reads them."""
    script = inline_scripts(page)[0]
    return [json.loads(value) for value in re.findall(r" = (.*);\n", script)]


def test_inert_data_reads_back_the_same_and_cannot_end_its_script() -> None:
    graphs = {"column": {name: [SEPARATORS, name] for name in HOSTILE}, HOSTILE[0]: 1.5}
    page = evidently_page(HOSTILE[1], graphs)
    assert len(re.findall("</script", page)) > 4  # as Evidently writes it, the data ends its script early

    inert = make_script_data_inert(page)

    assert len(re.findall("</script", inert)) == len(inline_scripts(inert)) == 4
    data = inline_scripts(inert)[0]
    assert not set("<>&\u2028\u2029") & set(data)
    dashboard, graphs_read = data_values(inert)
    assert dashboard["name"] == HOSTILE[1] and graphs_read == graphs
    assert inline_scripts(inert)[1:] == inline_scripts(page)[-3:]  # the other scripts are untouched


def test_the_policy_lists_the_hashes_of_the_page_scripts_before_the_first_script() -> None:
    page = with_content_security_policy(make_script_data_inert(evidently_page("Report", {})))
    head = page[: page.index("<script>")]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', head).group(1)
    assert directives(policy)["script-src"].split() == sorted(script_hash(s) for s in inline_scripts(page))
    assert head.index("<meta charset") < head.index("Content-Security-Policy")


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda page: page.replace("var metric_", "let metric_"), "no data script"),
        (lambda page: page.replace("var additional_graphs_", "var more_"), "additional graphs"),
        (lambda page: re.sub(r"(var metric_\w+ = )", r"\1{oops", page, count=1), "not valid JSON"),
        (lambda page: page.replace("};\n", "}\n", 1), "one JSON statement per line"),
        (lambda page: page.replace("</body>", "<script>alert(1)</script></body>"), "holds 5 scripts"),
    ],
)
def test_a_page_not_laid_out_as_evidently_writes_it_is_refused(mangle, match) -> None:
    page = mangle(evidently_page("Report", {"g": 1}))
    with pytest.raises(UnsafeReportError, match=match):
        make_script_data_inert(page)


def test_a_page_without_a_head_gets_no_policy_but_an_error() -> None:
    with pytest.raises(UnsafeReportError, match="no <head>"):
        with_content_security_policy("<html><body></body></html>")
