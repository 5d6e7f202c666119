"""A/B test state on one DynamoDB table: the traffic split, per-variant counters, and delayed feedback.

Items (key pk, sk):
- ("config", "traffic"): production_share, updated_at, updated_by.
- ("config", "stats_reset"): reset_at, reset_by of the last reset.
- ("stats", <variant>): counters, only ever changed by atomic ADD so concurrent instances never lose counts:
  requests, rows, errors, `lat|<i>` (latency histogram bucket i over LATENCY_EDGES_MS) and `cm|<true>|<pred>`
  (confusion counts from feedback; labels percent-encoded so `|` cannot clash).
- ("feedback#<prediction id>", "feedback"): marks a prediction as labelled (expires after FEEDBACK_TTL_DAYS).
  prediction_ids accepts an id in its one canonical spelling only, so the raw id is a sound dedupe key.

Recording a prediction costs no DynamoDB call: StatsRecorder sums counters in memory and flushes them as one
UpdateItem ADD per variant, from a background thread every `flush_interval_seconds`, on flush() and at exit.
Counts still in memory when a Lambda instance is frozen for good are lost: the API flushes before reading
stats, and at most about one interval of traffic per instance is at risk.

Recording feedback writes each label's marker and its confusion count in one transaction, so a label is never
marked without being counted nor counted twice. A batch takes one TransactWriteItems call per chunk of up to
MAX_TRANSACTION_ACTIONS actions (one Put per marker, one ADD per counter item with the chunk's summed counts).
"""

from __future__ import annotations

import atexit
import bisect
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from mlops_core import settings
from mlops_core.exceptions import DuplicateFeedbackError, InvalidRequestError
from mlops_core.prediction_ids import MAX_ID_CHARS, Label, default_secret, parse_prediction_id
from mlops_core.quoting import clip, echo
from mlops_core.routing import validate_share
from mlops_core.variants import VARIANTS

if TYPE_CHECKING:
    from botocore.client import BaseClient

# Upper edges (ms) of the latency buckets; the last bucket is everything above the last edge.
LATENCY_EDGES_MS: tuple[float, ...] = (
    0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
)  # fmt: skip
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
_TRANSACTION_ATTEMPTS = 5
FEEDBACK_TTL_DAYS = 30
MAX_LABEL_CHARS = 256
# DynamoDB's limit on one TransactWriteItems call, which also allows one action per item: a chunk of feedback
# leaves room for one counter update per variant.
MAX_TRANSACTION_ACTIONS = 100
_MARKERS_PER_TRANSACTION = MAX_TRANSACTION_ACTIONS - len(VARIANTS)
MAX_REASON_CHARS = 500
# What became of each label of a batch.
RECORDED, DUPLICATE, REJECTED = "recorded", "duplicate", "rejected"

ClassesOf = Callable[[str], Sequence[object] | None]
"""The classes of a model version, or None when they are not known (its labels then go unchecked)."""

log = logging.getLogger(__name__)
_CONFIG = "config"
_STATS = "stats"
_LATENCY = "lat|"
_CONFUSION = "cm|"


# pure aggregation
def latency_bucket(latency_ms: float, edges: tuple[float, ...] = LATENCY_EDGES_MS) -> int:
    """Index of the bucket holding `latency_ms`: bucket i covers [edges[i-1], edges[i])."""
    return bisect.bisect_right(edges, latency_ms)


def histogram_percentile(counts: list[int], q: float, edges: tuple[float, ...] = LATENCY_EDGES_MS) -> float | None:
    """The q-quantile (0 < q <= 1) of values binned in `counts` (len(edges) + 1 buckets), interpolating
    linearly inside the bucket where the cumulative count reaches q × total; the first bucket starts at 0
    and the overflow bucket reports its lower edge. None when nothing was counted."""
    if len(counts) != len(edges) + 1:
        raise ValueError(f"expected {len(edges) + 1} bucket counts, got {len(counts)}")
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    cumulative = 0
    for index, count in enumerate(counts):
        if count and cumulative + count >= rank:
            lower = edges[index - 1] if index else 0.0
            if index == len(edges):
                return float(lower)
            return float(lower + (edges[index] - lower) * (rank - cumulative) / count)
        cumulative += count
    return float(edges[-1])


class StatsRecorder:
    """Thread-safe in-memory counters per variant, handed to `sink(variant, {attribute: delta})` on flush.

    `record()` is the request path: a lock, a bisect and three additions. The background flusher starts with
    the first record; a failed flush puts its counts back, so they go out with the next one.
    """

    def __init__(
        self,
        sink: Callable[[str, dict[str, int]], None],
        *,
        flush_interval_seconds: float = 1.0,
        edges: tuple[float, ...] = LATENCY_EDGES_MS,
    ) -> None:
        self._sink = sink
        self._interval = flush_interval_seconds
        self._edges = edges
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, variant: str, *, rows: int = 1, latency_ms: float = 0.0, error: bool = False) -> None:
        """Count one request of `rows` rows that took `latency_ms`."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: expected one of {VARIANTS}")
        bucket = f"{_LATENCY}{latency_bucket(latency_ms, self._edges)}"
        with self._lock:
            counts = self._pending.get(variant)
            if counts is None:
                counts = self._pending[variant] = {}
            counts["requests"] = counts.get("requests", 0) + 1
            counts["rows"] = counts.get("rows", 0) + rows
            counts[bucket] = counts.get(bucket, 0) + 1
            if error:
                counts["errors"] = counts.get("errors", 0) + 1
        if self._thread is None and self._interval > 0:
            self._start()

    def pending(self) -> dict[str, dict[str, int]]:
        """A copy of the counts not flushed yet."""
        with self._lock:
            return {variant: dict(counts) for variant, counts in self._pending.items()}

    def flush(self) -> None:
        """Hand every pending count to the sink; raises the sink's error after putting unsent counts back."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, {}
            for index, (variant, counts) in enumerate(batch.items()):
                try:
                    self._sink(variant, counts)
                except Exception:
                    self._merge_back(list(batch.items())[index:])
                    raise

    def discard(self) -> None:
        """Drop pending counts (after a reset they belong to the period before it)."""
        with self._lock:
            self._pending = {}

    def close(self) -> None:
        """Stop the background flusher and flush what is left (logged, not raised, on failure)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._flush_quietly()

    def _merge_back(self, items: Iterable[tuple[str, dict[str, int]]]) -> None:
        with self._lock:
            for variant, counts in items:
                target = self._pending.setdefault(variant, {})
                for name, value in counts.items():
                    target[name] = target.get(name, 0) + value

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="ab-stats-flusher", daemon=True)
        atexit.register(self.close)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush_quietly()

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception:
            log.warning("A/B counters not flushed; retrying with the next flush", exc_info=True)


# the DynamoDB adapter
class AbStore:
    """The A/B table. Arguments beat the environment: `table_name` else AB_TABLE, `client` else
    boto3.client("dynamodb") (AWS_ENDPOINT_URL honoured by boto3), `secret` (verifies prediction ids) else
    prediction_ids.default_secret(). `get_traffic()` is cached for `traffic_ttl_seconds` because the API asks
    on every request; set_traffic() on this instance updates the cache at once."""

    def __init__(
        self,
        table_name: str | None = None,
        client: BaseClient | None = None,
        *,
        secret: str | None = None,
        flush_interval_seconds: float = 1.0,
        traffic_ttl_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name or settings.require(settings.AB_TABLE)
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.client = client
        self._secret = secret or default_secret()
        self._traffic_ttl = traffic_ttl_seconds
        self._clock = clock
        self._traffic: tuple[float, float] | None = None  # (share, valid until)
        self.recorder = StatsRecorder(self._add_counts, flush_interval_seconds=flush_interval_seconds)

    # traffic split
    def get_traffic(self) -> float:
        """The Production share in [0, 1]: the stored one, else AB_PRODUCTION_SHARE (default 0.5)."""
        cached = self._traffic
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        item = self._get(_CONFIG, "traffic")
        if item is None:
            share = validate_share(settings.get_float(settings.AB_PRODUCTION_SHARE))
        else:
            share = float(item["production_share"]["N"])
        self._traffic = (share, self._clock() + self._traffic_ttl)
        return share

    def set_traffic(self, share: object, actor: str) -> dict[str, Any]:
        """Store a new split. InvalidRequestError(field="production") for anything but a number in [0, 1].
        Returns {"production_share", "updated_at", "updated_by"}."""
        value = validate_share(share)
        stored = {"production_share": value, "updated_at": _now(), "updated_by": _checked_actor(actor)}
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": _CONFIG},
                "sk": {"S": "traffic"},
                "production_share": {"N": repr(value)},
                "updated_at": {"S": stored["updated_at"]},
                "updated_by": {"S": stored["updated_by"]},
            },
        )
        self._traffic = (value, self._clock() + self._traffic_ttl)
        return stored

    # counters
    def record_prediction(self, variant: str, *, rows: int = 1, latency_ms: float = 0.0, error: bool = False) -> None:
        """Count a request in memory (no DynamoDB call): same as `self.recorder.record`."""
        self.recorder.record(variant, rows=rows, latency_ms=latency_ms, error=error)

    def flush(self) -> None:
        """Send the counts recorded in this process to DynamoDB now."""
        self.recorder.flush()

    def close(self) -> None:
        """Stop the background flusher after a last flush."""
        self.recorder.close()

    def record_feedback(
        self, prediction_id: object, label: object, *, classes_of: ClassesOf | None = None
    ) -> dict[str, Any]:
        """Count the true `label` of a prediction in its variant's confusion counts, once per prediction id.

        InvalidRequestError for a malformed or forged id (field "prediction_id") or a bad label (field
        "label"), a label outside `classes_of(version)` included when that is known; DuplicateFeedbackError
        when the id already has a label. Returns {"prediction_id", "variant", "model_version", "predicted",
        "label", "correct"}.
        """
        labelled = self._verified(0, prediction_id, label, classes_of, {}, time.time())
        if self._write_labels([labelled]):
            raise DuplicateFeedbackError(f"feedback for prediction {prediction_id} was already recorded")
        return {
            "prediction_id": prediction_id,
            "variant": labelled.variant,
            "model_version": labelled.version,
            "predicted": labelled.predicted,
            "label": label,
            "correct": labelled.correct,
        }

    def record_feedback_batch(
        self, items: Sequence[tuple[object, object]], *, classes_of: ClassesOf | None = None
    ) -> list[dict[str, Any]]:
        """record_feedback for each (prediction_id, label), in few transactions; one outcome per item, in order:
        {"prediction_id", "status": RECORDED | DUPLICATE | REJECTED, "error" (REJECTED only)}.

        An item is rejected for what record_feedback refuses with InvalidRequestError (the reason in "error"),
        a duplicate when its id already has a label or an earlier item of the batch labels it. The table's
        errors are raised; the chunks written before one failed stay written, so sending the batch again
        answers those labels as duplicates.
        """
        results: list[dict[str, Any]] = [{} for _ in items]
        pending: list[_Label] = []
        seen: set[str] = set()
        class_keys: dict[str, frozenset[str] | None] = {}
        now = time.time()
        for index, (prediction_id, label) in enumerate(items):
            try:
                labelled = self._verified(index, prediction_id, label, classes_of, class_keys, now)
            except InvalidRequestError as error:
                results[index] = _outcome(prediction_id, REJECTED, str(error))
                continue
            if labelled.prediction_id in seen:
                results[index] = _outcome(prediction_id, DUPLICATE)
                continue
            seen.add(labelled.prediction_id)
            pending.append(labelled)
        duplicates: set[int] = set()
        for start in range(0, len(pending), _MARKERS_PER_TRANSACTION):
            duplicates |= self._write_labels(pending[start : start + _MARKERS_PER_TRANSACTION])
        for labelled in pending:
            status = DUPLICATE if labelled.index in duplicates else RECORDED
            results[labelled.index] = _outcome(labelled.prediction_id, status)
        return results

    def stats(self) -> dict[str, Any]:
        """Flushes this process's counts, then returns {"production_share", "reset_at", "reset_by",
        "variants": {variant: {"requests", "rows", "errors", "latency_ms": {"p50", "p95", "p99"},
        "labelled", "accuracy", "f1_macro", "confusion": {"labels", "matrix"}}}} for both variants. Percentiles
        come from the histogram (see histogram_percentile), metrics from the confusion counts; both are None
        when there is nothing to compute them from."""
        self.flush()
        items = {variant: {} for variant in VARIANTS}
        for item in self._query(_STATS):
            if item["sk"]["S"] in items:
                items[item["sk"]["S"]] = item
        reset = self._get(_CONFIG, "stats_reset") or {}
        return {
            "production_share": self.get_traffic(),
            "reset_at": reset.get("reset_at", {}).get("S"),
            "reset_by": reset.get("reset_by", {}).get("S"),
            "variants": {variant: variant_stats(_numbers(item)) for variant, item in items.items()},
        }

    def reset(self, actor: str) -> dict[str, Any]:
        """Zero every counter (the counter items are deleted, this process's pending counts dropped).
        Feedback markers stay, so a prediction labelled before the reset cannot be counted again.
        Returns {"reset_at", "reset_by"}."""
        done = {"reset_at": _now(), "reset_by": _checked_actor(actor)}
        self.recorder.discard()
        for item in self._query(_STATS):
            self.client.delete_item(TableName=self.table_name, Key={"pk": item["pk"], "sk": item["sk"]})
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": _CONFIG},
                "sk": {"S": "stats_reset"},
                "reset_at": {"S": done["reset_at"]},
                "reset_by": {"S": done["reset_by"]},
            },
        )
        return done

    # internals
    def _verified(
        self,
        index: int,
        prediction_id: object,
        label: object,
        classes_of: ClassesOf | None,
        class_keys: dict[str, frozenset[str] | None],
        now: float,
    ) -> _Label:
        """The label ready to write, or InvalidRequestError naming "prediction_id" or "label"."""
        variant, version, predicted = parse_prediction_id(prediction_id, self._secret)
        true_key, predicted_key = _label_key(label, "label"), _label_key(predicted, "prediction_id")
        if classes_of is not None:
            if version not in class_keys:
                classes = classes_of(version)
                class_keys[version] = None if classes is None else frozenset(map(_class_key, classes))
            keys = class_keys[version]
            if keys is not None and true_key not in keys:
                raise InvalidRequestError(
                    f"label {echo(label)} is not a class of the model v{version}: its classes are {echo(sorted(keys))}",
                    field="label",
                )
        prediction_id = str(prediction_id)  # parse_prediction_id accepted a string
        marker = {
            "pk": {"S": f"feedback#{prediction_id}"},
            "sk": {"S": "feedback"},
            "variant": {"S": variant},
            "model_version": {"S": version},
            "predicted": {"S": predicted_key},
            "label": {"S": true_key},
            "recorded_at": {"S": _iso(now)},
            "expires_at": {"N": str(int(now) + FEEDBACK_TTL_DAYS * 86400)},
        }
        cell = _confusion_attribute(true_key, predicted_key)
        return _Label(index, prediction_id, variant, version, predicted, true_key == predicted_key, marker, cell)

    def _write_labels(self, chunk: list[_Label]) -> set[int]:
        """Write the markers and counts of at most _MARKERS_PER_TRANSACTION labels; the indices of the labels
        whose id already had a marker (duplicates, neither marked nor counted again)."""
        duplicates: set[int] = set()
        conflicts = 0
        while chunk:
            try:
                self.client.transact_write_items(TransactItems=self._label_actions(chunk))
                break
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
                # The markers come first, in chunk order: a failed condition is an id that has a label already.
                taken = {i for i, code in enumerate(reasons[: len(chunk)]) if code == "ConditionalCheckFailed"}
                if taken:
                    duplicates.update(chunk[i].index for i in taken)
                    chunk = [labelled for i, labelled in enumerate(chunk) if i not in taken]
                    continue  # the rest again, with the counts summed anew
                # Concurrent feedback for one variant touches the same counter item; DynamoDB cancels the
                # losers with TransactionConflict, and the SDK does not retry cancelled transactions.
                conflicts += 1
                if "TransactionConflict" not in reasons or conflicts == _TRANSACTION_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2 ** (conflicts - 1)))
        return duplicates

    def _label_actions(self, chunk: list[_Label]) -> list[dict[str, Any]]:
        """One conditional Put per marker, then one ADD per variant's counter item with the chunk's counts."""
        counts: dict[str, dict[str, int]] = {}
        for labelled in chunk:
            cells = counts.setdefault(labelled.variant, {})
            cells[labelled.cell] = cells.get(labelled.cell, 0) + 1
        marker_puts = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": labelled.marker,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for labelled in chunk
        ]
        return marker_puts + [{"Update": self._add_update(variant, cells)} for variant, cells in counts.items()]

    def _add_counts(self, variant: str, counts: dict[str, int]) -> None:
        self.client.update_item(**self._add_update(variant, counts))

    def _add_update(self, variant: str, counts: dict[str, int]) -> dict[str, Any]:
        names = {f"#a{i}": name for i, name in enumerate(counts)}
        values = {f":a{i}": {"N": str(value)} for i, value in enumerate(counts.values())}
        return {
            "TableName": self.table_name,
            "Key": {"pk": {"S": _STATS}, "sk": {"S": variant}},
            "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(counts))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return response.get("Item")

    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class _Label:
    """A verified label of one prediction, ready to write: its marker item and its confusion cell."""

    index: int  # its place in the batch
    prediction_id: str
    variant: str
    version: str
    predicted: Label
    correct: bool
    marker: dict[str, Any]
    cell: str


def _outcome(prediction_id: object, status: str, error: str | None = None) -> dict[str, Any]:
    text = prediction_id if isinstance(prediction_id, str) else repr(prediction_id)
    outcome: dict[str, Any] = {"prediction_id": clip(text, MAX_ID_CHARS), "status": status}
    if error is not None:
        outcome["error"] = clip(error, MAX_REASON_CHARS)
    return outcome


def variant_stats(counters: dict[str, int], edges: tuple[float, ...] = LATENCY_EDGES_MS) -> dict[str, Any]:
    """One variant's statistics from its counter attributes (pure: the shape documented in AbStore.stats)."""
    import numpy as np

    from mlops_core.stats.metrics import metrics_from_confusion

    histogram = [counters.get(f"{_LATENCY}{i}", 0) for i in range(len(edges) + 1)]
    cells = {}
    for name, count in counters.items():
        if name.startswith(_CONFUSION) and count:
            true_key, predicted_key = name[len(_CONFUSION) :].split("|")
            cells[(unquote(true_key), unquote(predicted_key))] = count
    labels = sorted({label for cell in cells for label in cell})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for (true_label, predicted_label), count in cells.items():
        matrix[index[true_label], index[predicted_label]] = count
    metrics = metrics_from_confusion(matrix) if matrix.sum() else None
    return {
        "requests": counters.get("requests", 0),
        "rows": counters.get("rows", 0),
        "errors": counters.get("errors", 0),
        "latency_ms": {name: histogram_percentile(histogram, q, edges) for name, q in PERCENTILES.items()},
        "labelled": int(matrix.sum()),
        "accuracy": None if metrics is None else metrics["accuracy"],
        "f1_macro": None if metrics is None else metrics["f1_macro"],
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def _numbers(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(Decimal(value["N"])) for name, value in item.items() if "N" in value}


def _confusion_attribute(true_key: str, predicted_key: str) -> str:
    return f"{_CONFUSION}{quote(true_key, safe='')}|{quote(predicted_key, safe='')}"


def _class_key(label: object) -> str:
    try:
        return _label_key(label, "label")
    except InvalidRequestError:  # a class no label can name (an empty string): it matches nothing
        return ""


def _label_key(label: object, field: str) -> str:
    """Labels compare as text, so 1, "1", 1.0 and numpy.int64(1) are one class."""
    if hasattr(label, "item") and not isinstance(label, str):
        label = label.item()
    if isinstance(label, bool):
        return str(label).lower()
    if isinstance(label, int):
        return str(label)
    if isinstance(label, float) and math.isfinite(label):
        return str(int(label)) if label.is_integer() else repr(label)
    if isinstance(label, str) and label.strip() and len(label) <= MAX_LABEL_CHARS:
        return label
    raise InvalidRequestError(
        f"label must be a finite number or a non-empty string of at most {MAX_LABEL_CHARS} characters", field=field
    )


def _checked_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidRequestError("actor must be a non-empty string", field="actor")
    return actor.strip()


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _iso(time.time())
