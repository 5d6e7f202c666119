"""Acknowledged writes are on disk: the emulator answers a request that changed its state only once a snapshot
taken after that change has been saved (group commit: one snapshot covers every write that finished before it).

- `WriteGate`: requests that change state pass through it together; a snapshot waits until none is inside,
  so it never pickles a half-applied request.
- `Committer`: one thread that saves snapshots when a write waits for one, and every `interval` while state
  changes outside requests (Step Functions executions advancing, Lambda logs arriving).
- `DurableApp`: the WSGI layer in front of moto that tells writes from reads and holds a write's answer until
  it is durable.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

LOG = logging.getLogger(__name__)

# Operation names that only read, across the JSON (X-Amz-Target) and query (Action=) protocols.
READ_PREFIXES = ("Get", "Describe", "List", "Scan", "Query", "BatchGet", "Filter", "Test", "Validate", "Search")
_LAMBDA_INVOKE_PATHS = ("/2015-03-31/functions/", "/2014-11-13/functions/")
_MAX_FORM_PEEK = 1 << 20


class WriteGate:
    """Many writers at once, or one snapshot. A snapshot that cannot get in within `patience` seconds steps
    back and lets writers through, so a request that waits on another request can never deadlock it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self, patience: float = 5.0) -> Iterator[bool]:
        """Yields True with no writer inside, or False when writers did not drain in time."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._closed = True
            drained = self._cond.wait_for(lambda: self._inside == 0, timeout=patience)
            if not drained:
                self._closed = False
                self._cond.notify_all()
        try:
            yield drained
        finally:
            if drained:
                with self._cond:
                    self._closed = False
                    self._cond.notify_all()


class Committer:
    """Saves a snapshot when a write asks for one, and every `interval` seconds while `changing()` says state
    moves on its own. `save` raises RuntimeError when a backend changed under it; that attempt is retried."""

    def __init__(
        self,
        save: Callable[[], Any],
        gate: WriteGate,
        *,
        changing: Callable[[], bool] = lambda: False,
        interval: float = 1.0,
        wait_timeout: float = 60.0,
    ) -> None:
        self._save = save
        self._gate = gate
        self._changing = changing
        self._interval = interval
        self._wait_timeout = wait_timeout
        self._cond = threading.Condition()
        self._requested = 0  # writes finished so far
        self._durable = 0  # writes covered by the last saved snapshot
        self._dirty = False
        self._stopping = False
        self.snapshots = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="emulator-committer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def note_write(self) -> int:
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def mark_dirty(self) -> None:
        """State changed outside a request; the next periodic snapshot saves it."""
        self._dirty = True

    def wait_durable(self, ticket: int) -> bool:
        with self._cond:
            done = self._cond.wait_for(lambda: self._durable >= ticket or self._stopping, timeout=self._wait_timeout)
        if not done:
            LOG.error("a write was answered before it was saved: no snapshot completed in %ss", self._wait_timeout)
        return done

    def stop(self) -> None:
        """Save once more, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=120)
        self._commit()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._requested > self._durable or self._stopping, timeout=self._interval)
                if self._stopping:
                    return
                pending = self._requested > self._durable
            if pending or self._dirty or self._changing():
                self._commit()

    def _commit(self) -> None:
        with self._cond:
            target = self._requested
        self._dirty = False
        for attempt in range(20):
            with self._gate.exclusive() as alone:
                if alone:
                    try:
                        self._save()
                    except RuntimeError:
                        # A thread outside the gate (an execution, the log sink) resized a dict mid-pickle.
                        pass
                    except Exception:
                        self.failures += 1
                        LOG.exception("saving the emulator state failed")
                        self._dirty = True
                        return
                    else:
                        self.snapshots += 1
                        with self._cond:
                            self._durable = max(self._durable, target)
                            self._cond.notify_all()
                        return
            time.sleep(min(0.05 * 2**attempt, 1.0))
        self._dirty = True
        LOG.error("saving the emulator state failed 20 times in a row; retrying at the next interval")


def classify(environ: dict[str, Any]) -> str:
    """ "read", "invoke" (a Lambda invocation: its effects arrive as requests and logs of their own) or
    "write"."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    path = environ.get("PATH_INFO", "")
    if path.startswith(_LAMBDA_INVOKE_PATHS) and (path.endswith("/invocations") or "/invoke-async" in path):
        return "invoke"
    if path.startswith("/moto-api/"):
        return "write" if "reset" in path else "read"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return "read" if target.rpartition(".")[2].startswith(READ_PREFIXES) else "write"
    action = _form_action(environ)
    if action is not None:
        return "read" if action.startswith(READ_PREFIXES) else "write"
    return "write"


def _form_action(environ: dict[str, Any]) -> str | None:
    """The query protocol's Action (CloudFormation, IAM, STS), read without consuming the body."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        return query.get("Action", [None])[0]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > _MAX_FORM_PEEK:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]


class DurableApp:
    """WSGI middleware: a write's answer is held until the state it produced is saved."""

    def __init__(self, app: Callable[..., Iterable[bytes]], gate: WriteGate, committer: Committer) -> None:
        self.app = app
        self.gate = gate
        self.committer = committer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        kind = classify(environ)
        if kind == "read":
            return self.app(environ, start_response)
        if kind == "invoke":
            self.committer.mark_dirty()
            return self.app(environ, start_response)
        answer: dict[str, Any] = {}
        chunks: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answer.update(status=status, headers=headers)
            return chunks.append

        with self.gate.write():
            result = self.app(environ, capture)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        self.committer.wait_durable(self.committer.note_write())
        start_response(answer["status"], answer["headers"])
        return chunks
