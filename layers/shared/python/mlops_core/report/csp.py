"""Content-Security-Policy of the report pages: nothing loads or runs but what the page itself ships.

The pages are public on the reports website, where S3 sends no headers, so each page carries its policy in a
`<meta http-equiv>` tag; the API adds the same policy as a header, with `frame-ancestors`, which only a header
can set. Scripts are allowed by the SHA-256 of their exact text, computed when the page is rendered, never by
'unsafe-inline': a script smuggled in through data has another hash and does not run. Styles may be inline
(Evidently's charts write theirs at run time); with no network source allowed, a style cannot send anything
anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable

# Directives that default-src does not cover must be closed one by one.
_CLOSED = ("base-uri 'none'", "form-action 'none'")
# Only a header can forbid framing (browsers ignore frame-ancestors in a meta tag).
_HEADER_ONLY = ("frame-ancestors 'none'",)
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def script_hash(source: str) -> str:
    """The CSP source expression allowing exactly this inline script text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def inline_scripts(page: str) -> list[str]:
    """The text of every attribute-less `<script>` element of a page whose scripts hold no `</script>`."""
    return _SCRIPT.findall(page)


def page_policy(*, scripts: Iterable[str] = (), fonts: bool = False) -> str:
    """The policy for a self-contained page: inline styles, data: images (and fonts), the given scripts only."""
    hashes = sorted({script_hash(source) for source in scripts})
    directives = ["default-src 'none'"]
    if hashes:
        directives.append("script-src " + " ".join(hashes))
    directives += ["style-src 'unsafe-inline'", "img-src data:"]
    if fonts:
        directives.append("font-src data:")
    directives += _CLOSED
    return "; ".join(directives)


def meta_tag(policy: str) -> str:
    """The policy as the first tag of a page's head (it covers only what follows it)."""
    content = html.escape(policy, quote=False).replace('"', "&quot;")
    return f'<meta http-equiv="Content-Security-Policy" content="{content}">'


def header_policy(policy: str) -> str:
    """The policy as the API sends it in the Content-Security-Policy header."""
    return "; ".join([policy, *_HEADER_ONLY])


# The run report runs no script at all.
REPORT_POLICY = page_policy()
