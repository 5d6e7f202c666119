"""The emulator's state on disk: every moto backend in one snapshot, large payloads as content-addressed blobs.

Why snapshots of moto's own backends: moto 5.2.5 has no persistence, and its models already carry what AWS
returns (ETags, versions, timestamps, ARNs, random resource names). LocalStack's persistence pickles the same
moto backends; replaying the API calls instead would draw new random names and re-run executions. Object
bodies, function zips and layers (every `bytes` of 64 KiB or more) are written once as files named by their
SHA-256, so a snapshot stays small and rewriting it does not rewrite the data.

Layout under the state folder:
- `snapshot.pickle`: a header (format, moto and Python versions), then all backends in one pickle, so objects
  that two services share (a stack's resources and the bucket they created) stay one object;
- `blobs/<sha256>`: the payloads.
Every file is written to a temporary name, fsync'd, then renamed, and the folder fsync'd: a crash leaves the
previous snapshot or the new one, never half of one. Blobs no snapshot refers to are deleted after a save.
"""

from __future__ import annotations

import _thread
import collections
import hashlib
import importlib
import io
import os
import pickle
import sys
import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_local.exceptions import SnapshotError

FORMAT = 1
BLOB_MIN_BYTES = 64 * 1024
SNAPSHOT = "snapshot.pickle"
BLOBS = "blobs"
STOPPED_ERROR = "States.StackStopped"
STOPPED_CAUSE = "the stack stopped during the run"


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def header() -> dict[str, Any]:
    return {"format": FORMAT, "moto": _moto_version(), "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


# --- stand-ins for what cannot be pickled ------------------------------------------------------------------


class FrozenHistory:
    """Takes the place of a Step Functions execution's worker (threads, the parsed program) in a snapshot:
    what the API still needs from it is the event history, which it keeps."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = list(events)

    @property
    def env(self) -> FrozenHistory:  # the API reads execution.exec_worker.env.event_manager
        return self

    @property
    def event_manager(self) -> FrozenHistory:
        return self

    def get_event_history(self) -> list[dict[str, Any]]:
        return [dict(event) for event in self.events]

    def stop(self, **_: Any) -> None:
        """A restored execution has no worker left to stop."""


def _weak_value_dict(items: dict[Any, Any]) -> weakref.WeakValueDictionary:
    # The values are pickled elsewhere too (moto keeps them in a plain dict as well), so they stay alive.
    restored: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
    restored.update(items)
    return restored


def _default_dict(kind: type, items: dict[Any, Any]) -> collections.defaultdict:
    restored: collections.defaultdict = collections.defaultdict(kind)
    restored.update(items)
    return restored


def _versioned_store(cls: type, lists: dict[str, list[Any]], attributes: dict[str, Any]) -> Any:
    store = cls()
    for key, versions in lists.items():
        dict.__setitem__(store, key, versions)
    store.__dict__.update(attributes)
    return store


def _s3_key(cls: type, state: dict[str, Any], value: bytes) -> Any:
    key = cls.__new__(cls)
    key.__setstate__({**state, "value": value})
    return key


@dataclass(frozen=True)
class _Blob:
    sha: str
    data: bytes | None = None  # None: the blob is already on disk


class _Pickler(pickle.Pickler):
    def __init__(self, file: Any, store: BlobStore) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.store = store

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is bytes and len(obj) >= BLOB_MIN_BYTES:
            return ("blob", self.store.put(obj))
        if type(obj) is _Blob:
            return ("blob", self.store.put_known(obj))
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is _thread.RLock:
            return (threading.RLock, ())
        if kind is _thread.LockType:
            return (threading.Lock, ())
        if kind is threading.Event:
            return (threading.Event, ())
        if isinstance(obj, weakref.WeakValueDictionary):
            return (_weak_value_dict, (dict(obj),))
        if kind is collections.defaultdict and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            # moto builds some with `defaultdict(lambda: {})`; a lambda cannot be pickled, its result type can.
            return (_default_dict, (type(obj.default_factory()), dict(obj)))
        if kind.__name__ in ("ExecutionWorker", "SyncExecutionWorker") and kind.__module__.startswith("moto."):
            env = getattr(obj, "env", None)
            events = [] if env is None else env.event_manager.get_event_history()
            return (FrozenHistory, (events,))
        if kind.__name__ == "FakeKey" and kind.__module__ == "moto.s3.models":
            return self._s3_key(obj)
        if kind.__name__ == "_VersionedKeyStore":
            # A dict whose items() yields only each key's newest version: pickled as a dict it would lose the rest.
            lists = {key: dict.__getitem__(obj, key) for key in dict.keys(obj)}
            return (_versioned_store, (kind, lists, dict(vars(obj))))
        if isinstance(obj, threading.Thread):
            return (type(None), ())
        return NotImplemented

    def _s3_key(self, key: Any) -> Any:
        state = {k: v for k, v in key.__dict__.items() if k not in ("_value_buffer", "lock")}
        return (_s3_key, (type(key), state, self.store.blob_of_s3_key(key)))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, store: BlobStore) -> None:
        super().__init__(file)
        self.store = store

    def persistent_load(self, pid: Any) -> Any:
        kind, sha = pid
        if kind != "blob":
            raise pickle.UnpicklingError(f"unknown persistent reference {kind!r}")
        return self.store.get(sha)


class BlobStore:
    """Content-addressed files. Remembers what it already hashed (by object identity, for as long as the
    object lives in the emulator), so a snapshot hashes only payloads that are new since the last one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._known: dict[int, tuple[Any, str]] = {}  # id(bytes) -> (the bytes, sha)
        self._s3: dict[int, tuple[Any, tuple[Any, ...], str]] = {}  # id(key) -> (the key, its version, sha)
        self.used: set[str] = set()

    def begin(self) -> None:
        self.used = set()
        self._seen_known: dict[int, tuple[Any, str]] = {}
        self._seen_s3: dict[int, tuple[Any, tuple[Any, ...], str]] = {}

    def end(self) -> None:
        # Forget what the snapshot no longer holds, so deleted payloads are not kept alive here.
        self._known, self._s3 = self._seen_known, self._seen_s3

    def put(self, data: bytes) -> str:
        known = self._known.get(id(data))
        sha = known[1] if known is not None and known[0] is data else self._write(data)
        self._seen_known[id(data)] = (data, sha)
        self.used.add(sha)
        return sha

    def put_known(self, blob: _Blob) -> str:
        if blob.data is not None:
            self._write(blob.data, blob.sha)
        self.used.add(blob.sha)
        return blob.sha

    def blob_of_s3_key(self, key: Any) -> _Blob:
        version = (key.contentsize, key.last_modified, key.__dict__.get("_etag"), key.disposed)
        known = self._s3.get(id(key))
        if known is not None and known[0] is key and known[1] == version:
            blob = _Blob(known[2])
        else:
            try:
                data = key.value
            except ValueError:  # the key was deleted and its buffer closed
                data = b""
            blob = _Blob(hashlib.sha256(data).hexdigest(), data)
        self._seen_s3[id(key)] = (key, version, blob.sha)
        return blob

    def get(self, sha: str) -> bytes:
        path = self.folder / sha
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise SnapshotError(f"the saved emulator state lacks the blob {path}: run `mlops reset`") from None

    def _write(self, data: bytes, sha: str | None = None) -> str:
        sha = sha or hashlib.sha256(data).hexdigest()
        path = self.folder / sha
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, data)
        return sha

    def collect_garbage(self) -> None:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name not in self.used and not path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes) -> None:
    """Temporary file, fsync, rename, fsync of the folder: the path holds the old content or the new."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# --- the backends -------------------------------------------------------------------------------------------


def _backend_dicts() -> list[Any]:
    from moto.core.base_backend import BackendDict

    return list(BackendDict._instances)


def _key(backend_dict: Any) -> str:
    cls = backend_dict.backend
    return f"{cls.__module__}:{cls.__qualname__}"


def _live_backend_dict(key: str) -> Any:
    from moto.core.base_backend import BackendDict

    module_name, _, qualname = key.partition(":")
    module = importlib.import_module(module_name)
    candidates = [module, *(m for name, m in list(sys.modules.items()) if name.startswith("moto.") and m)]
    for candidate in candidates:
        for value in list(vars(candidate).values()):
            if isinstance(value, BackendDict) and f"{value.backend.__module__}:{value.backend.__qualname__}" == key:
                return value
    raise SnapshotError(f"the saved emulator state names a moto backend this moto lacks: {qualname}")


def collect() -> dict[str, dict[str, dict[str, Any]]]:
    """{backend key: {account: {region: backend}}} of every backend in use."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for backend_dict in _backend_dicts():
        accounts = {account: dict(regions) for account, regions in list(backend_dict.items())}
        if any(accounts.values()):
            state[_key(backend_dict)] = accounts
    return state


def install(state: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Put restored backends where moto looks them up."""
    for key, accounts in state.items():
        live = _live_backend_dict(key)
        for account, regions in accounts.items():
            account_backends = live[account]
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)


@dataclass
class Snapshots:
    """Saves and restores the emulator's backends under `folder`."""

    folder: Path
    blobs: BlobStore = field(init=False)

    def __post_init__(self) -> None:
        self.blobs = BlobStore(self.folder / BLOBS)

    @property
    def path(self) -> Path:
        return self.folder / SNAPSHOT

    def exists(self) -> bool:
        return self.path.exists()

    def save(self) -> int:
        """Write a snapshot of every backend; returns its size in bytes. Raises RuntimeError when another thread
        changed a backend while it was being pickled (the caller retries)."""
        buffer = io.BytesIO()
        pickle.dump(header(), buffer, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs.begin()
        _Pickler(buffer, self.blobs).dump(collect())
        self.blobs.end()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, buffer.getvalue())
        self.blobs.collect_garbage()
        return buffer.tell()

    def load(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The saved backends; SnapshotError in one line when they cannot be read by this emulator."""
        with open(self.path, "rb") as file:
            try:
                saved = pickle.load(file)
            except Exception as exc:
                raise SnapshotError(f"{self.path} is not an emulator snapshot ({exc}): run `mlops reset`") from None
            if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("moto") != _moto_version():
                found = saved if isinstance(saved, dict) else {}
                raise SnapshotError(
                    f"{self.path} was written by format {found.get('format')} on moto {found.get('moto')}; this "
                    f"emulator reads format {FORMAT} on moto {_moto_version()}: run `mlops reset` to start from an "
                    "empty stack (it deletes the saved state)"
                )
            try:
                return _Unpickler(file, self.blobs).load()
            except SnapshotError:
                raise
            except Exception as exc:
                raise SnapshotError(
                    f"{self.path} cannot be read ({type(exc).__name__}: {exc}): run `mlops reset`"
                ) from None

    def restore(self) -> list[str]:
        """Install the saved backends; executions that were running end as failed. Returns their ARNs."""
        state = self.load()
        install(state)
        return fail_interrupted_executions()


def executions_running() -> bool:
    """Whether a Step Functions execution is advancing: its history changes outside any request."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return any(
        backend._get_executions(ExecutionStatus.RUNNING)
        for account_backends in list(stepfunctions_parser_backends.values())
        for backend in list(account_backends.values())
    )


def fail_interrupted_executions(now: datetime | None = None) -> list[str]:
    """An execution whose worker died with the emulator can never finish: it ends FAILED, as Step Functions
    ends one whose service failed, with an ExecutionFailed event naming why."""
    from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    now = now or datetime.now(UTC)
    failed = []
    for account_backends in list(stepfunctions_parser_backends.values()):
        for backend in list(account_backends.values()):
            for execution in backend._get_executions(ExecutionStatus.RUNNING):
                worker = execution.exec_worker
                history = worker if isinstance(worker, FrozenHistory) else FrozenHistory([])
                previous = history.events[-1]["id"] if history.events else 0
                history.events.append(
                    {
                        "timestamp": now,
                        "type": HistoryEventType.ExecutionFailed,
                        "id": previous + 1,
                        "previousEventId": previous,
                        "executionFailedEventDetails": {"error": STOPPED_ERROR, "cause": STOPPED_CAUSE},
                    }
                )
                execution.exec_worker = history
                execution.exec_status = ExecutionStatus.FAILED
                execution.stop_date = now
                execution.error = STOPPED_ERROR
                execution.cause = STOPPED_CAUSE
                failed.append(execution.exec_arn)
    return failed
