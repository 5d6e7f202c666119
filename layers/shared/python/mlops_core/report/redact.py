"""Internal addresses and credentials out of text bound for a public page: `redact()`, pure.

A failure's message and stack trace are written by libraries that name what they could not reach: MLflow puts
its server's URL in every failed request, urllib3 its `host='…', port=…`, botocore the endpoint URL. The run
report is public on the reports website, so before an error goes into it:
- a network URL whose host is internal (loopback, private, link-local or unspecified addresses; `localhost`; names
  with no dot, as compose services have; `.internal`, `.local`, `.localhost`, `.localdomain` names) becomes
  `<internal URL>`;
- any other URL loses its user and password, and the values of query parameters that carry credentials
  (signatures, tokens, keys: presigned S3 URLs);
- an internal address outside a URL (`127.0.0.1:5000`, `host='mlflow'`) becomes `<internal host>`.
Everything else of the text stays, so the error keeps its type and a useful message.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

INTERNAL_URL = "<internal URL>"
INTERNAL_HOST = "<internal host>"
REDACTED = "<redacted>"

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`\\]+")
_TRAILING = ".,;:!?)]}"
# In these the "host" is a bucket or container name, which the report shows anyway, not a machine.
_STORAGE_SCHEMES = frozenset({"s3", "s3a", "s3n", "gs", "file", "hdfs", "dbfs", "wasbs", "abfss"})
_INTERNAL_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain")
_SECRET_PARAMETER = re.compile(r"sig|token|key|secret|passw|pwd|credential|auth|session", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?(?![\w.])")
_NAMED_HOST = re.compile(
    r"(?<![\w.-])(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:\.internal|\.local|\.localhost|\.localdomain))"
    r"(?::\d{1,5})?(?![\w.-])",
    re.IGNORECASE,
)
_HOST_ARGUMENT = re.compile(r"\bhost=(['\"])([^'\"]*)\1")


def is_internal_host(host: str) -> bool:
    """Whether a URL's host names something only the deployment itself can reach."""
    host = host.strip("[]").lower().rstrip(".")
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_INTERNAL_SUFFIXES)
    return address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        return INTERNAL_URL
    if parts.scheme.lower() not in _STORAGE_SCHEMES and is_internal_host(host):
        return INTERNAL_URL
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{name}={REDACTED}" if _SECRET_PARAMETER.search(name) and sep else f"{name}{sep}{value}"
        for name, sep, value in (item.partition("=") for item in parts.query.split("&"))
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def _url(match: re.Match[str]) -> str:
    url = match.group(0)
    stripped = url.rstrip(_TRAILING)
    return _redact_url(stripped) + url[len(stripped) :]


def _address(match: re.Match[str]) -> str:
    return INTERNAL_HOST if is_internal_host(match.group(1)) else match.group(0)


def _host_argument(match: re.Match[str]) -> str:
    quote, host = match.group(1), match.group(2)
    return f"host={quote}{INTERNAL_HOST}{quote}" if is_internal_host(host) else match.group(0)


def redact(text: str) -> str:
    """`text` with internal URLs and addresses replaced and credentials in URLs removed (see the module)."""
    text = _URL.sub(_url, text)
    text = _HOST_ARGUMENT.sub(_host_argument, text)
    text = _IPV4.sub(_address, text)
    return _NAMED_HOST.sub(INTERNAL_HOST, text)
