"""Render a page with Debian's headless Chromium: the DOM after load as text, and optionally a PNG screenshot.

Tests call `require_chromium()` first: without the browser they skip with the install command, except under CI
(environment variable CI set), where a missing browser is a broken build and fails. `parse_dom` turns the dumped
DOM (or any HTML) into a small element tree, so tests assert on elements and text rather than on substrings.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass(frozen=True)
class Rendered:
    """What Chromium produced: the serialized DOM and, when asked for, the screenshot's path."""

    url: str
    dom: str
    png: Path | None


class ChromiumError(RuntimeError):
    """Chromium exited with an error, timed out, or produced no DOM or no screenshot."""


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def require_chromium() -> Path:
    """The browser's path; skips the calling test when it is absent, fails it instead when CI is set."""
    if chromium_available():
        return CHROMIUM
    reason = f"Debian's chromium is not installed at {CHROMIUM} ({INSTALL_HINT})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this is an error, not a skip")
    pytest.skip(reason)


def browser_command(profile: str, window_size: tuple[int, int], *extra: str) -> list[str]:
    """Headless Chromium with a profile folder of its own and the window size, then `extra` arguments."""
    return [
        str(require_chromium()),
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={window_size[0]},{window_size[1]}",
        *extra,
    ]


def to_url(target: str | Path) -> str:
    """http(s) and file URLs pass through; anything else is a local file, which must exist."""
    if isinstance(target, str) and target.startswith(("http://", "https://", "file://")):
        return target
    path = Path(target).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no page to render at {path}")
    return path.as_uri()


def render(
    target: str | Path,
    *,
    screenshot: Path | None = None,
    window_size: tuple[int, int] = (1280, 2400),
    timeout: float = 60.0,
) -> Rendered:
    """Load `target` (a file path or an http(s)/file URL) once, dumping the DOM and, if asked, a screenshot."""
    url = to_url(target)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = browser_command(profile, window_size, "--dump-dom")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.unlink(missing_ok=True)
            command.append(f"--screenshot={screenshot}")
        command.append(url)
        stdout, stderr, code = _run(command, timeout)
    if code != 0 or not stdout.strip():
        raise ChromiumError(f"chromium exited with {code} rendering {url}; stderr tail:\n{_tail(stderr)}")
    if screenshot is not None and not (screenshot.is_file() and screenshot.stat().st_size > 0):
        raise ChromiumError(f"chromium wrote no screenshot for {url}; stderr tail:\n{_tail(stderr)}")
    return Rendered(url=url, dom=stdout, png=screenshot)


def _run(command: list[str], timeout: float) -> tuple[str, str, int]:
    # Chromium forks renderer and zygote processes: a session of its own lets a timeout end all of them.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        raise ChromiumError(f"chromium did not finish within {timeout} s; stderr tail:\n{_tail(stderr)}") from None
    return stdout, stderr, process.returncode


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class Element:
    """One parsed element: tag, attributes and children (elements and text, in document order)."""

    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, *, id: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and (id is None or element.attrs.get("id") == id)
            and (cls is None or cls in (element.attrs.get("class") or "").split())
        ]

    def find(self, tag: str | None = None, *, id: str | None = None, cls: str | None = None) -> Element:
        found = self.find_all(tag, id=id, cls=cls)
        if not found:
            raise LookupError(f"no <{tag or '*'}> with id={id!r} class={cls!r}")
        return found[0]

    def text(self) -> str:
        """The text content with entities decoded, whitespace runs collapsed."""
        return " ".join("".join(self._pieces()).split())

    def _pieces(self) -> Iterator[str]:
        for child in self.children:
            if isinstance(child, Element):
                yield from child._pieces()
            else:
                yield child


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self._stack[-1].children.append(element)
        if tag not in _VOID:
            self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching element; a stray end tag closes nothing.
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data)


def parse_dom(markup: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root
