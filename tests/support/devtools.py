"""Open a page in headless Chromium under the DevTools protocol and report what it did, not only what it shows.

`--dump-dom` (tests/support/chromium.py) cannot tell whether a script ran: a dialog is dismissed and a blocked
script leaves no trace. Here the browser is driven over its DevTools websocket, so a test learns of every
JavaScript dialog (`alert`, `confirm`, `prompt`, answered so the page goes on), every Content-Security-Policy
violation (a `securitypolicyviolation` listener installed before any page script) and the DOM once the page
has settled.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.chromium import ChromiumError, browser_command, to_url

# Runs in every document before the page's own scripts; DevTools-injected scripts are not subject to the CSP.
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push({directive: event.effectiveDirective, blocked: event.blockedURI,
                               sample: event.sample});
});
"""


_READ_TIMEOUT = 30.0


@dataclass
class PageVisit:
    """What happened while the page loaded: dialogs opened, CSP violations, and the DOM at the end."""

    url: str
    dom: str = ""
    dialogs: list[dict[str, Any]] = field(default_factory=list)
    csp_violations: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    settled: bool = False  # the `until` condition held before the timeout


def visit(
    target: str | Path,
    *,
    until: str = "true",
    steps: Sequence[tuple[str, str]] = (),
    timeout: float = 60.0,
    window_size: tuple[int, int] = (1280, 2400),
) -> PageVisit:
    """Load `target` and wait until the JavaScript expression `until` is truthy (or `timeout` passes); then for
    each `(action, until)` of `steps`, evaluate the action (a click, say) and wait for its condition.

    `settled` says whether every condition held in time. Dialogs are accepted as they open and recorded; the
    page is never left blocked on one.
    """
    url = to_url(target)
    with tempfile.TemporaryDirectory(prefix="chromium-devtools-") as profile:
        command = browser_command(profile, window_size, "--remote-debugging-port=0", "about:blank")
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            port = _devtools_port(Path(profile), process, timeout)
            return _drive(port, url, [("", until), *steps], timeout)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ChromiumError(f"chromium exited with {process.returncode} before opening DevTools")
        text = active.read_text() if active.is_file() else ""
        if text.strip():
            return int(text.split()[0])
        time.sleep(0.05)
    raise ChromiumError(f"chromium opened no DevTools port within {timeout} s")


def _page_socket(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.load(response)
    return next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")


def _drive(port: int, url: str, steps: Sequence[tuple[str, str]], timeout: float) -> PageVisit:
    from websockets.sync.client import connect

    result = PageVisit(url)
    ids = itertools.count(1)
    settle_by = time.monotonic() + timeout
    deadline = settle_by + _READ_TIMEOUT  # for every DevTools answer, the final reads included
    with connect(_page_socket(port), max_size=None, open_timeout=10) as socket:

        def on_event(message: dict[str, Any]) -> None:
            method = message.get("method")
            if method == "Page.javascriptDialogOpening":
                result.dialogs.append(message["params"])
                socket.send(
                    json.dumps({"id": next(ids), "method": "Page.handleJavaScriptDialog", "params": {"accept": True}})
                )
            elif method == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                result.exceptions.append(str(details.get("exception", {}).get("description") or details["text"]))

        def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            number = next(ids)
            socket.send(json.dumps({"id": number, "method": method, "params": params or {}}))
            return _await(socket, lambda m: m.get("id") == number, on_event, deadline, method)

        call("Page.enable")
        call("Runtime.enable")
        call("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_VIOLATIONS})
        call("Page.navigate", {"url": url})
        _await(socket, lambda m: m.get("method") == "Page.loadEventFired", on_event, deadline, "load")

        def evaluate(expression: str) -> Any:
            answer = call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
            return answer.get("result", {}).get("result", {}).get("value")

        result.settled = all(_step(evaluate, action, until, settle_by, socket, on_event) for action, until in steps)
        _drain(socket, on_event, 0.2)  # late dialogs and violations of the last scripts
        result.csp_violations = evaluate("window.__cspViolations || []") or []
        result.dom = evaluate("document.documentElement.outerHTML") or ""
    return result


def _step(
    evaluate: Callable[[str], Any],
    action: str,
    until: str,
    settle_by: float,
    socket: Any,
    on_event: Callable[[dict[str, Any]], None],
) -> bool:
    if action:
        evaluate(action)
    while time.monotonic() < settle_by:
        if evaluate(f"Boolean({until})"):
            return True
        _drain(socket, on_event, 0.1)
    return False


def _await(
    socket: Any,
    matches: Callable[[dict[str, Any]], bool],
    on_event: Callable[[dict[str, Any]], None],
    deadline: float,
    what: str,
) -> dict[str, Any]:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChromiumError(f"no answer from chromium for {what} in time")
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            continue
        if "error" in message and "id" in message and matches(message):
            raise ChromiumError(f"{what}: {message['error']}")
        if matches(message):
            return message
        on_event(message)


def _drain(socket: Any, on_event: Callable[[dict[str, Any]], None], seconds: float) -> None:
    end = time.monotonic() + seconds
    while (remaining := end - time.monotonic()) > 0:
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            return
        on_event(message)
