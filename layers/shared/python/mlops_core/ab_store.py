"""A/B test state on one DynamoDB table: the traffic split, counters per variant, per model version and per
experiment (a Production version against a Staging version), and delayed feedback.

Items (key pk, sk):
- ("config", "traffic"): production_share, updated_at, updated_by.
- ("config", "stats_reset"): reset_at, reset_by of the last reset.
- ("stats", <variant>): counters, only ever changed by atomic ADD so concurrent instances never lose counts:
  requests, rows, errors, `lat|<i>` (latency histogram bucket i over LATENCY_EDGES_MS) and `cm|<true>|<pred>`
  (confusion counts from feedback; labels percent-encoded so `|` cannot clash).
- ("stats", "version#<version>"): the same counters for the requests one model version served, whichever alias
  it had (aliases move, versions do not), plus what it scored in shadow: shadow_requests, shadow_rows,
  shadow_errors, and from feedback shadow_labelled, shadow_correct.
- ("stats", "pair#<production version>#<staging version>"): the experiment's paired counts from feedback on
  requests both models scored: pairs, both_correct, staging_only, production_only, both_wrong.
- ("feedback#<prediction id>", "feedback"): marks a prediction as labelled (expires after FEEDBACK_TTL_DAYS).
  prediction_ids accepts an id in its one canonical spelling only, so the raw id is a sound dedupe key.

Recording a prediction costs no DynamoDB call: StatsRecorder sums counters in memory and flushes them as one
UpdateItem ADD per counter item, from a background thread every `flush_interval_seconds`, on flush() and at
exit. Counts still in memory when a Lambda instance is frozen for good are lost: the API flushes before reading
stats, and at most about one interval of traffic per instance is at risk.

Recording feedback writes each label's marker and all its counts in one transaction, so a label is never
marked without being counted nor counted twice. A batch takes one TransactWriteItems call per chunk of up to
MAX_TRANSACTION_ACTIONS actions (one Put per marker, one ADD per counter item with the chunk's summed counts).
A label touches its variant's item, one or two version items and at most one experiment item, so a chunk
touches few items and concurrent feedback meets on those few (see _write_labels).
"""

from __future__ import annotations

import atexit
import bisect
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from mlops_core import settings
from mlops_core.exceptions import DuplicateFeedbackError, InvalidRequestError
from mlops_core.prediction_ids import MAX_ID_CHARS, SignedPrediction, default_secret, parse_signed_prediction
from mlops_core.quoting import clip, echo
from mlops_core.routing import validate_share
from mlops_core.variants import PRODUCTION, VARIANTS

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
# leaves room for one counter update per item its labels touch.
MAX_TRANSACTION_ACTIONS = 100
MAX_REASON_CHARS = 500
# What became of each label of a batch.
RECORDED, DUPLICATE, REJECTED = "recorded", "duplicate", "rejected"
# How a labelled request both models scored counts for its experiment, besides `pairs`.
PAIR_OUTCOMES = ("both_correct", "staging_only", "production_only", "both_wrong")

ClassesOf = Callable[[str], Sequence[object] | None]
"""The classes of a model version, or None when they are not known (its labels then go unchecked)."""

log = logging.getLogger(__name__)
_CONFIG = "config"
_STATS = "stats"
_LATENCY = "lat|"
_CONFUSION = "cm|"
_VERSION_ITEM = "version#"
_PAIR_ITEM = "pair#"
_SHADOW_COUNTERS = ("requests", "rows", "errors", "labelled", "correct")  # stored as shadow_<name>


def version_item(version: str) -> str:
    """The sort key of a model version's counter item."""
    return f"{_VERSION_ITEM}{version}"


def pair_item(production_version: str, staging_version: str) -> str:
    """The sort key of an experiment's counter item."""
    return f"{_PAIR_ITEM}{production_version}#{staging_version}"


def pair_outcome(production_correct: bool, staging_correct: bool) -> str:
    """The PAIR_OUTCOMES cell of one labelled request that both models scored."""
    if production_correct == staging_correct:
        return "both_correct" if production_correct else "both_wrong"
    return "staging_only" if staging_correct else "production_only"


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
    """Thread-safe in-memory counters per counter item (a variant, a model version), handed to
    `sink(item, {attribute: delta})` on flush.

    `record()` is the request path: a lock, a bisect and a few additions. The background flusher starts with
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

    def record(
        self,
        variant: str,
        *,
        rows: int = 1,
        latency_ms: float = 0.0,
        error: bool = False,
        version: str | None = None,
    ) -> None:
        """Count one request of `rows` rows that took `latency_ms`, for the variant and, when given, for the
        model version that served it."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: expected one of {VARIANTS}")
        delta = {"requests": 1, "rows": rows, f"{_LATENCY}{latency_bucket(latency_ms, self._edges)}": 1}
        if error:
            delta["errors"] = 1
        self._add([variant] if version is None else [variant, version_item(str(version))], delta)

    def record_shadow(self, version: str, *, rows: int = 1, error: bool = False) -> None:
        """Count one request of `rows` rows that model `version` scored in shadow (its answers not served)."""
        delta = {"shadow_requests": 1, "shadow_rows": rows}
        if error:
            delta["shadow_errors"] = 1
        self._add([version_item(str(version))], delta)

    def _add(self, items: list[str], delta: dict[str, int]) -> None:
        with self._lock:
            for item in items:
                counts = self._pending.get(item)
                if counts is None:
                    counts = self._pending[item] = {}
                for name, value in delta.items():
                    counts[name] = counts.get(name, 0) + value
        if self._thread is None and self._interval > 0:
            self._start()

    def pending(self) -> dict[str, dict[str, int]]:
        """A copy of the counts not flushed yet, by counter item."""
        with self._lock:
            return {item: dict(counts) for item, counts in self._pending.items()}

    def flush(self) -> None:
        """Hand every pending count to the sink; raises the sink's error after putting unsent counts back."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, {}
            for index, (item, counts) in enumerate(batch.items()):
                try:
                    self._sink(item, counts)
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
            for item, counts in items:
                target = self._pending.setdefault(item, {})
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
    def record_prediction(
        self,
        variant: str,
        *,
        rows: int = 1,
        latency_ms: float = 0.0,
        error: bool = False,
        version: str | None = None,
    ) -> None:
        """Count a request in memory (no DynamoDB call): same as `self.recorder.record`."""
        self.recorder.record(variant, rows=rows, latency_ms=latency_ms, error=error, version=version)

    def flush(self) -> None:
        """Send the counts recorded in this process to DynamoDB now."""
        self.recorder.flush()

    def close(self) -> None:
        """Stop the background flusher after a last flush."""
        self.recorder.close()

    def record_feedback(
        self, prediction_id: object, label: object, *, classes_of: ClassesOf | None = None
    ) -> dict[str, Any]:
        """Count the true `label` of a prediction, once per prediction id: in its variant's and its version's
        confusion counts and, when the id carries a shadow prediction, in the shadow version's counts and as a
        pair of its experiment.

        InvalidRequestError for a malformed or forged id (field "prediction_id") or a bad label (field
        "label"), a label outside `classes_of(version)` of either model included when that is known;
        DuplicateFeedbackError when the id already has a label. Returns {"prediction_id", "variant",
        "model_version", "predicted", "label", "correct"}, and "shadow": {"variant", "model_version",
        "predicted", "correct"} for an id with a shadow.
        """
        labelled = self._verified(0, prediction_id, label, classes_of, {}, time.time())
        if self._write_labels([labelled]):
            raise DuplicateFeedbackError(f"feedback for prediction {prediction_id} was already recorded")
        signed = labelled.signed
        result = {
            "prediction_id": prediction_id,
            "variant": signed.variant,
            "model_version": signed.version,
            "predicted": signed.label,
            "label": label,
            "correct": labelled.correct,
        }
        if signed.shadow_version is not None:
            result["shadow"] = {
                "variant": signed.shadow_variant,
                "model_version": signed.shadow_version,
                "predicted": signed.shadow_label,
                "correct": labelled.shadow_correct,
            }
        return result

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
        for chunk in _chunks(pending):
            duplicates |= self._write_labels(chunk)
        for labelled in pending:
            status = DUPLICATE if labelled.index in duplicates else RECORDED
            results[labelled.index] = _outcome(labelled.prediction_id, status)
        return results

    def stats(self, experiment: tuple[str, str] | None = None) -> dict[str, Any]:
        """Flushes this process's counts, then returns {"production_share", "reset_at", "reset_by",
        "variants": {variant: {"requests", "rows", "errors", "latency_ms": {"p50", "p95", "p99"},
        "labelled", "accuracy", "f1_macro", "confusion": {"labels", "matrix"}}}, "by_version": {version:
        version_stats(...)}, "experiments": [experiment_stats(...)]} with both variants, every version and every
        experiment counted since the last reset, oldest versions first. Percentiles come from the histogram
        (see histogram_percentile), metrics from the confusion counts; both are None when there is nothing to
        compute them from. `experiment` (production_version, staging_version) keeps that one experiment in
        "experiments", with zero counts when it has none."""
        self.flush()
        variants: dict[str, dict[str, int]] = {variant: {} for variant in VARIANTS}
        versions: dict[str, dict[str, int]] = {}
        pairs: dict[tuple[str, str], dict[str, int]] = {}
        for item in self._query(_STATS):
            key = item["sk"]["S"]
            if key in variants:
                variants[key] = _numbers(item)
            elif key.startswith(_VERSION_ITEM):
                versions[key[len(_VERSION_ITEM) :]] = _numbers(item)
            elif key.startswith(_PAIR_ITEM):
                production_version, _, staging_version = key[len(_PAIR_ITEM) :].partition("#")
                pairs[(production_version, staging_version)] = _numbers(item)
        if experiment is not None:
            pairs = {experiment: pairs.get(experiment, {})}
        reset = self._get(_CONFIG, "stats_reset") or {}
        return {
            "production_share": self.get_traffic(),
            "reset_at": reset.get("reset_at", {}).get("S"),
            "reset_by": reset.get("reset_by", {}).get("S"),
            "variants": {variant: variant_stats(counters) for variant, counters in variants.items()},
            "by_version": {
                version: version_stats(versions[version]) for version in sorted(versions, key=_version_order)
            },
            "experiments": [
                experiment_stats(*key, pairs[key])
                for key in sorted(pairs, key=lambda pair: tuple(map(_version_order, pair)))
            ],
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
        signed = parse_signed_prediction(prediction_id, self._secret)
        true_key, predicted_key = _label_key(label, "label"), _label_key(signed.label, "prediction_id")
        shadow_key = None if signed.shadow_version is None else _label_key(signed.shadow_label, "prediction_id")
        if classes_of is not None:
            # The label must be a class of every model that predicted the row, the shadow included: a label
            # one of them cannot have would count against it on a class it never saw.
            for version in (signed.version, signed.shadow_version):
                if version is not None:
                    _check_class(label, true_key, version, classes_of, class_keys)
        prediction_id = str(prediction_id)  # parse_signed_prediction accepted a string
        marker = {
            "pk": {"S": f"feedback#{prediction_id}"},
            "sk": {"S": "feedback"},
            "variant": {"S": signed.variant},
            "model_version": {"S": signed.version},
            "predicted": {"S": predicted_key},
            "label": {"S": true_key},
            "recorded_at": {"S": _iso(now)},
            "expires_at": {"N": str(int(now) + FEEDBACK_TTL_DAYS * 86400)},
        }
        if shadow_key is not None:
            marker["shadow_version"] = {"S": str(signed.shadow_version)}
            marker["shadow_predicted"] = {"S": shadow_key}
        counts = _label_counts(signed, true_key, predicted_key, shadow_key)
        shadow_correct = None if shadow_key is None else shadow_key == true_key
        return _Label(index, prediction_id, signed, true_key == predicted_key, shadow_correct, marker, counts)

    def _write_labels(self, chunk: list[_Label]) -> set[int]:
        """Write the markers and counts of one chunk of labels (see _chunks); the indices of the labels whose id
        already had a marker (duplicates, neither marked nor counted again)."""
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
                # Concurrent feedback for one variant (or version, or experiment) touches the same counter
                # item; DynamoDB cancels the losers with TransactionConflict, and the SDK does not retry
                # cancelled transactions. Labels touch few items, so a few attempts with backoff settle it.
                conflicts += 1
                if "TransactionConflict" not in reasons or conflicts == _TRANSACTION_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2 ** (conflicts - 1)))
        return duplicates

    def _label_actions(self, chunk: list[_Label]) -> list[dict[str, Any]]:
        """One conditional Put per marker, then one ADD per counter item with the chunk's summed counts."""
        counts: dict[str, dict[str, int]] = {}
        for labelled in chunk:
            for item, delta in labelled.counts.items():
                cells = counts.setdefault(item, {})
                for name, value in delta.items():
                    cells[name] = cells.get(name, 0) + value
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
        return marker_puts + [{"Update": self._add_update(item, cells)} for item, cells in counts.items()]

    def _add_counts(self, item: str, counts: dict[str, int]) -> None:
        self.client.update_item(**self._add_update(item, counts))

    def _add_update(self, item: str, counts: dict[str, int]) -> dict[str, Any]:
        names = {f"#a{i}": name for i, name in enumerate(counts)}
        values = {f":a{i}": {"N": str(value)} for i, value in enumerate(counts.values())}
        return {
            "TableName": self.table_name,
            "Key": {"pk": {"S": _STATS}, "sk": {"S": item}},
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
    """A verified label of one prediction, ready to write: its marker item and what it adds to each counter."""

    index: int  # its place in the batch
    prediction_id: str
    signed: SignedPrediction
    correct: bool
    shadow_correct: bool | None  # None: no shadow scored the row
    marker: dict[str, Any]
    counts: dict[str, dict[str, int]]  # counter item -> {attribute: delta}


def _label_counts(
    signed: SignedPrediction, true_key: str, predicted_key: str, shadow_key: str | None
) -> dict[str, dict[str, int]]:
    """What one label adds to each counter item: the confusion cell of its variant and version, and with a
    shadow the shadow version's labelled/correct and the experiment's pair."""
    cell = {_confusion_attribute(true_key, predicted_key): 1}
    counts = {signed.variant: dict(cell), version_item(signed.version): dict(cell)}
    if shadow_key is None or signed.shadow_version is None:
        return counts
    shadow_correct = shadow_key == true_key
    shadow = counts.setdefault(version_item(signed.shadow_version), {})  # the same version may serve both aliases
    shadow["shadow_labelled"] = 1
    if shadow_correct:
        shadow["shadow_correct"] = 1
    correct = true_key == predicted_key
    if signed.variant == PRODUCTION:
        production_version, staging_version = signed.version, signed.shadow_version
        outcome = pair_outcome(correct, shadow_correct)
    else:
        production_version, staging_version = signed.shadow_version, signed.version
        outcome = pair_outcome(shadow_correct, correct)
    counts[pair_item(production_version, staging_version)] = {"pairs": 1, outcome: 1}
    return counts


def _chunks(labels: list[_Label]) -> Iterator[list[_Label]]:
    """The labels in order, in chunks whose markers plus distinct counter items fit in one transaction."""
    chunk: list[_Label] = []
    items: set[str] = set()
    for labelled in labels:
        grown = items | labelled.counts.keys()
        if chunk and len(chunk) + 1 + len(grown) > MAX_TRANSACTION_ACTIONS:
            yield chunk
            chunk, grown = [], set(labelled.counts)
        chunk.append(labelled)
        items = grown
    if chunk:
        yield chunk


def _check_class(
    label: object,
    true_key: str,
    version: str,
    classes_of: ClassesOf,
    class_keys: dict[str, frozenset[str] | None],
) -> None:
    """InvalidRequestError(field="label") when model `version` is known here and `label` is not one of its
    classes; `class_keys` remembers each version's classes for the rest of the batch."""
    if version not in class_keys:
        classes = classes_of(version)
        class_keys[version] = None if classes is None else frozenset(map(_class_key, classes))
    keys = class_keys[version]
    if keys is not None and true_key not in keys:
        raise InvalidRequestError(
            f"label {echo(label)} is not a class of the model v{version}: its classes are {echo(sorted(keys))}",
            field="label",
        )


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


def version_stats(counters: dict[str, int], edges: tuple[float, ...] = LATENCY_EDGES_MS) -> dict[str, Any]:
    """One model version's statistics (pure): variant_stats of the requests it served, whatever alias it had,
    plus "correct" (labelled predictions it served that were right) and "shadow": {"requests", "rows",
    "errors", "labelled", "correct"} of what it scored in shadow behind the other variant."""
    served = variant_stats(counters, edges)
    matrix = served["confusion"]["matrix"]
    served["correct"] = sum(matrix[i][i] for i in range(len(matrix)))
    served["shadow"] = {name: counters.get(f"shadow_{name}", 0) for name in _SHADOW_COUNTERS}
    return served


def experiment_stats(production_version: str, staging_version: str, counters: dict[str, int]) -> dict[str, Any]:
    """One experiment's paired counts (pure): {"production_version", "staging_version", "pairs", *PAIR_OUTCOMES}."""
    return {
        "production_version": production_version,
        "staging_version": staging_version,
        "pairs": counters.get("pairs", 0),
        **{outcome: counters.get(outcome, 0) for outcome in PAIR_OUTCOMES},
    }


def _version_order(version: str) -> tuple[int, str]:
    # Registry versions are numbers: "10" after "9".
    return (int(version), version) if version.isdigit() else (2**63, version)


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
