"""AbStore and StatsRecorder against moto's DynamoDB (the table as template.yaml creates it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from mlops_core.ab_store import (
    LATENCY_EDGES_MS,
    PAIR_OUTCOMES,
    AbStore,
    StatsRecorder,
    experiment_stats,
    histogram_percentile,
    latency_bucket,
    pair_outcome,
    variant_stats,
    version_stats,
)
from mlops_core.exceptions import ConfigurationError, DuplicateFeedbackError, InvalidRequestError
from mlops_core.prediction_ids import make_prediction_id

SECRET = "test-secret"


@pytest.fixture
def store(dynamodb_table: str) -> Iterator[AbStore]:
    store = AbStore(secret=SECRET, traffic_ttl_seconds=0)
    yield store
    store.close()


def counter_item(table: str, variant: str) -> dict:
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "stats"}, "sk": {"S": variant}})
    return item.get("Item", {})


def test_table_name_comes_from_the_environment(dynamodb_table: str, monkeypatch) -> None:
    assert AbStore().table_name == dynamodb_table
    monkeypatch.delenv("AB_TABLE")
    with pytest.raises(ConfigurationError, match="AB_TABLE"):
        AbStore()


def test_traffic_defaults_then_round_trips(store: AbStore, dynamodb_table: str, monkeypatch) -> None:
    assert store.get_traffic() == 0.5
    monkeypatch.setenv("AB_PRODUCTION_SHARE", "0.8")
    assert store.get_traffic() == 0.8

    stored = store.set_traffic(0.7, actor="api")

    assert stored["production_share"] == 0.7 and stored["updated_by"] == "api"
    assert stored["updated_at"].endswith("Z")
    assert AbStore(secret=SECRET).get_traffic() == 0.7  # another instance reads the table
    assert store.set_traffic(1, actor="api")["production_share"] == 1.0
    assert AbStore(secret=SECRET).get_traffic() == 1.0


def test_traffic_is_cached_for_the_ttl(dynamodb_table: str) -> None:
    now = [0.0]
    reader = AbStore(secret=SECRET, traffic_ttl_seconds=1.0, clock=lambda: now[0])
    writer = AbStore(secret=SECRET)
    assert reader.get_traffic() == 0.5
    writer.set_traffic(0.2, actor="api")
    assert reader.get_traffic() == 0.5
    now[0] = 1.0
    assert reader.get_traffic() == 0.2


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "0.5", None, True, [0.5]])
def test_invalid_traffic_is_refused_and_nothing_is_stored(store: AbStore, bad: object) -> None:
    with pytest.raises(InvalidRequestError) as error:
        store.set_traffic(bad, actor="api")
    assert error.value.field == "production"
    assert store.get_traffic() == 0.5


def test_traffic_needs_an_actor(store: AbStore) -> None:
    with pytest.raises(InvalidRequestError) as error:
        store.set_traffic(0.5, actor="")
    assert error.value.field == "actor"


def test_no_count_is_lost_under_concurrency(store: AbStore, dynamodb_table: str) -> None:
    fast = AbStore(secret=SECRET, flush_interval_seconds=0.01)  # background flushes race with the threads
    barrier = threading.Barrier(8)

    def work(thread: int) -> None:
        barrier.wait()
        target = fast if thread % 2 else store
        for i in range(500):
            target.recorder.record("production" if i % 4 else "staging", rows=2, latency_ms=1.5, error=i % 10 == 0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fast.close()
    store.flush()

    variants = store.stats()["variants"]
    assert variants["production"]["requests"] + variants["staging"]["requests"] == 4000
    assert (variants["production"]["requests"], variants["staging"]["requests"]) == (3000, 1000)
    assert variants["production"]["rows"] == 6000
    assert variants["production"]["errors"] + variants["staging"]["errors"] == 400
    assert counter_item(dynamodb_table, "production")[f"lat|{latency_bucket(1.5)}"] == {"N": "3000"}
    assert store.recorder.pending() == {}


def test_recording_makes_no_dynamodb_call_until_a_flush(store: AbStore, dynamodb_table: str) -> None:
    store.recorder.record("staging", rows=3, latency_ms=4.0)
    assert counter_item(dynamodb_table, "staging") == {}
    assert store.recorder.pending() == {"staging": {"requests": 1, "rows": 3, f"lat|{latency_bucket(4.0)}": 1}}
    store.flush()
    assert counter_item(dynamodb_table, "staging")["requests"] == {"N": "1"}


def test_background_flusher_sends_counts_without_an_explicit_flush(dynamodb_table: str) -> None:
    store = AbStore(secret=SECRET, flush_interval_seconds=0.05)
    try:
        store.record_prediction("production", latency_ms=1.0)
        for _ in range(100):
            if counter_item(dynamodb_table, "production"):
                break
            threading.Event().wait(0.05)
        assert counter_item(dynamodb_table, "production")["requests"] == {"N": "1"}
    finally:
        store.close()


def test_failed_flush_keeps_the_counts_for_the_next_one() -> None:
    sent: list[tuple[str, dict]] = []
    failing = [True]

    def sink(variant: str, counts: dict) -> None:
        if failing[0]:
            raise ConnectionError("table unreachable")
        sent.append((variant, counts))

    recorder = StatsRecorder(sink, flush_interval_seconds=0)
    recorder.record("production", latency_ms=1.0)
    with pytest.raises(ConnectionError):
        recorder.flush()
    recorder.record("production", latency_ms=1.0)
    failing[0] = False
    recorder.flush()
    assert sent == [("production", {"requests": 2, "rows": 2, f"lat|{latency_bucket(1.0)}": 2})]


def test_unknown_variant_is_a_programming_error(store: AbStore) -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        store.recorder.record("canary", latency_ms=1.0)


def test_latency_buckets_follow_the_edges() -> None:
    assert latency_bucket(0.0) == 0
    assert latency_bucket(0.25) == 1  # an edge starts the next bucket
    assert latency_bucket(1.9) == 3
    assert latency_bucket(1e9) == len(LATENCY_EDGES_MS)


def test_histogram_percentiles_match_a_hand_computed_case() -> None:
    edges = (1.0, 2.0, 4.0)
    counts = [2, 6, 2, 0]  # [0,1): 2, [1,2): 6, [2,4): 2, [4,inf): 0
    # p50: rank 5 falls 3 of 6 into [1,2) -> 1.5; p95: rank 9.5 falls 1.5 of 2 into [2,4) -> 3.5
    assert histogram_percentile(counts, 0.50, edges) == 1.5
    assert histogram_percentile(counts, 0.95, edges) == 3.5
    assert histogram_percentile(counts, 0.10, edges) == 0.5  # rank 1 of 2 in [0,1)
    assert histogram_percentile([0, 0, 0, 4], 0.99, edges) == 4.0  # overflow reports its lower edge
    assert histogram_percentile([0, 0, 0, 0], 0.5, edges) is None
    with pytest.raises(ValueError, match="expected 4 bucket counts"):
        histogram_percentile([1, 2], 0.5, edges)


def test_stats_percentiles_from_recorded_latencies(store: AbStore) -> None:
    for latency in [0.3] * 50 + [1.5] * 45 + [40.0] * 5:  # buckets [0.25,0.5), [1,2), [30,50)
        store.recorder.record("production", latency_ms=latency)
    latency = store.stats()["variants"]["production"]["latency_ms"]
    # p50: rank 50 is the last of the 50 in [0.25,0.5) -> 0.5; p95: rank 95 ends [1,2) -> 2.0;
    # p99: rank 99 is 4 of 5 into [30,50) -> 30 + 20 * 4/5 = 46.0
    assert latency == {"p50": 0.5, "p95": 2.0, "p99": 46.0}


def test_feedback_counts_once_and_gives_accuracy_and_f1(store: AbStore, dynamodb_table: str) -> None:
    ids = {
        (predicted, true): make_prediction_id("staging", "4", predicted, SECRET)
        for predicted, true in [("setosa", "setosa"), ("versicolor", "virginica"), ("virginica", "virginica")]
    }
    for (_, true), prediction_id in ids.items():
        result = store.record_feedback(prediction_id, true)
        assert result["variant"] == "staging" and result["model_version"] == "4"

    first = ids[("setosa", "setosa")]
    with pytest.raises(DuplicateFeedbackError, match="already recorded"):
        store.record_feedback(first, "versicolor")

    staging = store.stats()["variants"]["staging"]
    assert staging["labelled"] == 3
    assert staging["accuracy"] == pytest.approx(2 / 3)
    # per class F1: setosa 1, versicolor 0 (one false positive), virginica 2/3 -> macro 5/9
    assert staging["f1_macro"] == pytest.approx(5 / 9)
    assert staging["confusion"] == {
        "labels": ["setosa", "versicolor", "virginica"],
        "matrix": [[1, 0, 0], [0, 0, 0], [0, 1, 1]],
    }
    marker = boto3.client("dynamodb").get_item(
        TableName=dynamodb_table, Key={"pk": {"S": f"feedback#{first}"}, "sk": {"S": "feedback"}}
    )["Item"]
    assert int(marker["expires_at"]["N"]) > 0 and marker["label"] == {"S": "setosa"}
    production = store.stats()["variants"]["production"]
    assert (production["labelled"], production["accuracy"], production["f1_macro"]) == (0, None, None)


def test_feedback_labels_compare_across_types_and_may_hold_separators(store: AbStore) -> None:
    store.record_feedback(make_prediction_id("production", "1", 2, SECRET), "2")
    store.record_feedback(make_prediction_id("production", "1", "a|b", SECRET), "a|b")
    stats = store.stats()["variants"]["production"]
    assert stats["accuracy"] == 1.0 and stats["confusion"]["labels"] == ["2", "a|b"]


@pytest.mark.parametrize(
    "prediction_id",
    [
        "",
        "no-dot",
        "abc.def",
        make_prediction_id("production", "1", "setosa", "another-secret"),
        make_prediction_id("production", "1", "setosa", SECRET)[:-2] + "AA",
        None,
        42,
    ],
    # Fixed ids: a signed id holds a random nonce, and both test workers must collect the same names.
    ids=["empty", "no-dot", "not-base64", "other-secret", "bad-signature", "none", "int"],
)
def test_forged_or_malformed_ids_are_refused(store: AbStore, prediction_id: object) -> None:
    with pytest.raises(InvalidRequestError) as error:
        store.record_feedback(prediction_id, "setosa")
    assert error.value.field == "prediction_id"
    assert store.stats()["variants"]["production"]["labelled"] == 0


@pytest.mark.parametrize("label", ["", "   ", "x" * 300, None, float("nan"), ["setosa"], {"a": 1}])
def test_bad_labels_are_refused_before_anything_is_written(store: AbStore, label: object) -> None:
    prediction_id = make_prediction_id("production", "1", "setosa", SECRET)
    with pytest.raises(InvalidRequestError) as error:
        store.record_feedback(prediction_id, label)
    assert error.value.field == "label"
    store.record_feedback(prediction_id, "setosa")  # the id was not consumed


def test_reset_zeroes_counters_but_keeps_feedback_dedupe(store: AbStore, dynamodb_table: str) -> None:
    prediction_id = make_prediction_id("production", "1", "setosa", SECRET)
    store.recorder.record("production", latency_ms=1.0)
    store.record_feedback(prediction_id, "setosa")
    store.flush()
    store.recorder.record("staging", latency_ms=1.0)  # pending: belongs to the period before the reset

    done = store.reset(actor="api")

    stats = store.stats()
    assert (stats["reset_at"], stats["reset_by"]) == (done["reset_at"], "api")
    for variant in ("production", "staging"):
        assert stats["variants"][variant] == variant_stats({})
    assert stats["variants"]["production"]["requests"] == 0
    assert counter_item(dynamodb_table, "production") == {}
    with pytest.raises(DuplicateFeedbackError):
        store.record_feedback(prediction_id, "setosa")
    with pytest.raises(InvalidRequestError):
        store.reset(actor=" ")


def test_stats_shape_is_json_safe(store: AbStore) -> None:
    import json

    store.recorder.record("production", latency_ms=2.5)
    stats = json.loads(json.dumps(store.stats()))
    assert set(stats) == {"production_share", "reset_at", "reset_by", "variants", "by_version", "experiments"}
    assert set(stats["variants"]["production"]) == {
        "requests",
        "rows",
        "errors",
        "latency_ms",
        "labelled",
        "accuracy",
        "f1_macro",
        "confusion",
    }
    assert stats["variants"]["production"]["latency_ms"]["p50"] == 2.5  # rank 0.5 of 1, halfway into [2,3)


def _conflicting_client(conflicts: int) -> tuple[object, list[int]]:
    """A real DynamoDB client whose first `conflicts` TransactWriteItems calls are cancelled the way DynamoDB
    cancels a transaction that lost a race on the same item (moto never produces this conflict)."""
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    calls = [0]

    def cancel(params: dict, **_: object) -> tuple[AWSResponse, dict]:
        calls[0] += 1
        if calls[0] <= conflicts:
            raise client.exceptions.TransactionCanceledException(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        # A before-call handler's return value stands in for DynamoDB's answer: here, success.
        return AWSResponse("https://dynamodb", 200, {}, None), {}

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", cancel)
    return client, calls


def test_feedback_transactions_cancelled_by_a_conflict_are_retried() -> None:
    client, calls = _conflicting_client(conflicts=2)
    store = AbStore("ab", client=client, secret=SECRET)
    prediction_id = make_prediction_id("staging", "3", "setosa", SECRET)
    recorded = store.record_feedback(prediction_id, "setosa")
    assert recorded["correct"] is True
    assert calls[0] == 3


def test_feedback_gives_up_after_repeated_conflicts() -> None:
    client, calls = _conflicting_client(conflicts=100)
    store = AbStore("ab", client=client, secret=SECRET)
    with pytest.raises(client.exceptions.TransactionCanceledException):
        store.record_feedback(make_prediction_id("staging", "3", "setosa", SECRET), "setosa")
    assert calls[0] == 5


# feedback in batches
class SpyClient:
    """The DynamoDB client, with every TransactWriteItems call's actions kept (the ones cancelled too)."""

    def __init__(self, client: object) -> None:
        self._client = client
        self.transactions: list[list[dict]] = []

    def transact_write_items(self, **kwargs: object) -> object:
        self.transactions.append(list(kwargs["TransactItems"]))  # type: ignore[call-overload]
        return self._client.transact_write_items(**kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


@pytest.fixture
def spy(dynamodb_table: str) -> Iterator[tuple[AbStore, SpyClient]]:
    client = SpyClient(boto3.client("dynamodb"))
    store = AbStore(secret=SECRET, client=client)  # type: ignore[arg-type]
    yield store, client
    store.close()


def staging_ids(labels: list[str], version: str = "4") -> list[str]:
    return [make_prediction_id("staging", version, label, SECRET) for label in labels]


def statuses(results: list[dict]) -> list[str]:
    return [result["status"] for result in results]


def test_a_feedback_batch_records_counts_duplicates_and_rejects_each_item_in_order(store: AbStore) -> None:
    fresh, again, taken, bad_label = staging_ids(["setosa", "virginica", "setosa", "setosa"])
    store.record_feedback(taken, "setosa")
    forged = make_prediction_id("staging", "4", "setosa", "another-secret")
    results = store.record_feedback_batch(
        [
            (fresh, "setosa"),
            (taken, "setosa"),
            (forged, "setosa"),
            (again, "versicolor"),
            (bad_label, ""),
            (fresh, "virginica"),  # the same id again in this batch: the first item's label stands
            (bad_label, "virginica"),  # the rejected item above did not consume the id
        ]
    )
    assert statuses(results) == ["recorded", "duplicate", "rejected", "recorded", "rejected", "duplicate", "recorded"]
    assert [result["prediction_id"] for result in results] == [fresh, taken, forged, again, bad_label, fresh, bad_label]
    assert results[2]["error"] == "prediction_id does not verify: forged or issued elsewhere"
    assert "label must be" in results[4]["error"]
    assert all(("error" in result) == (result["status"] == "rejected") for result in results)
    staging = store.stats()["variants"]["staging"]
    assert staging["labelled"] == 4  # taken before, then fresh, again and bad_label
    assert staging["confusion"] == {
        "labels": ["setosa", "versicolor", "virginica"],
        "matrix": [[2, 0, 0], [0, 0, 1], [1, 0, 0]],
    }


def test_labels_outside_the_models_classes_are_refused_when_the_version_is_known(store: AbStore) -> None:
    classes = {"4": ["setosa", "versicolor", "virginica"], "5": [0, 1, 2]}
    known, numeric, retired = staging_ids(["setosa", "setosa"]) + staging_ids(["setosa"], "3")
    numeric = make_prediction_id("staging", "5", 1, SECRET)
    with pytest.raises(InvalidRequestError, match="label 'dog' is not a class of the model v4") as error:
        store.record_feedback(known, "dog", classes_of=classes.get)
    assert error.value.field == "label"
    results = store.record_feedback_batch(
        [(known, "Setosa"), (numeric, "1"), (retired, "dog"), (known, "setosa")], classes_of=classes.get
    )
    assert statuses(results) == ["rejected", "recorded", "recorded", "recorded"]  # 1 and "1" are one class
    assert results[0]["error"] == (
        "label 'Setosa' is not a class of the model v4: its classes are \"['setosa', 'versicolor', 'virginica']\""
    )


def test_a_batch_larger_than_a_transaction_is_written_in_chunks_of_at_most_100_actions(
    spy: tuple[AbStore, SpyClient],
) -> None:
    store, client = spy
    labels = ["setosa", "versicolor", "virginica"]
    items = [
        (make_prediction_id(("production", "staging")[i % 2], "1", labels[i % 3], SECRET), labels[(i // 3) % 3])
        for i in range(250)
    ]
    earlier = [0, 96, 97, 150, 249]  # in each chunk's first, last or middle places
    for index in earlier:
        store.record_feedback(*items[index])
    client.transactions.clear()

    results = store.record_feedback_batch(items)

    assert [i for i, status in enumerate(statuses(results)) if status == "duplicate"] == earlier
    assert statuses(results).count("recorded") == 245
    # Three chunks of 97, 97 and 56 markers plus three counter updates (both variants and version 1); each chunk
    # was cancelled once, naming its duplicates, and sent again without them.
    assert [len(actions) for actions in client.transactions] == [100, 98, 100, 98, 59, 58]
    for actions in client.transactions:
        updates = [action["Update"]["Key"]["sk"]["S"] for action in actions if "Update" in action]
        assert sorted(updates) == ["production", "staging", "version#1"]  # one ADD per counter item
        keys = [action["Put"]["Item"]["pk"]["S"] for action in actions if "Put" in action]
        assert len(set(keys)) == len(keys)
    variants = store.stats()["variants"]
    assert variants["production"]["labelled"] + variants["staging"]["labelled"] == 250
    expected: dict[tuple[str, str, str], int] = {}
    for variant_index, (_, label) in enumerate(items):
        predicted = labels[variant_index % 3]
        key = (("production", "staging")[variant_index % 2], label, predicted)
        expected[key] = expected.get(key, 0) + 1
    for variant in ("production", "staging"):
        confusion = variants[variant]["confusion"]
        cells = {
            (variant, true, predicted): count
            for i, true in enumerate(confusion["labels"])
            for j, predicted in enumerate(confusion["labels"])
            if (count := confusion["matrix"][i][j])
        }
        assert cells == {key: count for key, count in expected.items() if key[0] == variant}


def test_re_spelled_ids_are_never_recorded_twice(store: AbStore) -> None:
    prediction_id = make_prediction_id("production", "1", "setosa", SECRET)
    store.record_feedback(prediction_id, "setosa")
    payload, signature = prediction_id.split(".")
    spellings = [f"{prediction_id}==", f"{prediction_id}=", f"{payload}==.{signature}", f"{prediction_id}\n"]
    spellings += [f"{payload}.{signature[:-1]}{char}" for char in "ABCDEFGHIJKLMNOP" if char != signature[-1]]
    for spelling in spellings:
        with pytest.raises((InvalidRequestError, DuplicateFeedbackError)):
            store.record_feedback(spelling, "setosa")
    results = store.record_feedback_batch([(spelling, "setosa") for spelling in spellings])
    assert set(statuses(results)) <= {"rejected", "duplicate"}
    assert store.stats()["variants"]["production"]["labelled"] == 1


def test_batch_transactions_cancelled_by_a_conflict_are_retried() -> None:
    client, calls = _conflicting_client(conflicts=2)
    store = AbStore("ab", client=client, secret=SECRET)
    results = store.record_feedback_batch([(prediction_id, "setosa") for prediction_id in staging_ids(["setosa"] * 3)])
    assert statuses(results) == ["recorded"] * 3
    assert calls[0] == 3


@pytest.fixture
def serialised_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's in-process DynamoDB is not thread-safe (a transaction deep-copies the table another thread writes);
    DynamoDB serialises conflicting writes, and so does one lock here, as the emulator's patch does."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def serialised(method: Callable[..., Any]) -> Callable[..., Any]:
        def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query"):
        monkeypatch.setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))


def test_overlapping_batches_from_many_threads_count_every_label_exactly_once(
    serialised_dynamodb: None, dynamodb_table: str
) -> None:
    labels = ["setosa", "versicolor", "virginica"]
    items = [(make_prediction_id("production", "1", labels[i % 3], SECRET), labels[i % 2]) for i in range(120)]
    barrier = threading.Barrier(6)
    outcomes: list[list[dict]] = [[] for _ in range(6)]

    def work(thread: int) -> None:
        store = AbStore(secret=SECRET)  # one per thread, as each Lambda instance has its own
        barrier.wait()
        for start in range(thread * 10, 120, 60):  # windows of 50 that overlap the other threads'
            outcomes[thread].extend(store.record_feedback_batch(items[start : start + 50]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    recorded = [result["prediction_id"] for results in outcomes for result in results if result["status"] == "recorded"]
    assert sorted(recorded) == sorted(prediction_id for prediction_id, _ in items)  # each exactly once
    assert {result["status"] for results in outcomes for result in results} == {"recorded", "duplicate"}
    production = AbStore(secret=SECRET).stats()["variants"]["production"]
    assert production["labelled"] == 120
    expected = [[0] * 3 for _ in labels]
    for i in range(120):
        expected[labels.index(labels[i % 2])][i % 3] += 1
    assert production["confusion"] == {"labels": labels, "matrix": expected}


# paired evidence: ids that carry the shadow model's prediction
def shadowed(variant: str, version: str, predicted: str, shadow_version: str, shadow: str) -> str:
    return make_prediction_id(variant, version, predicted, SECRET, shadow_version=shadow_version, shadow_label=shadow)


def experiment(store: AbStore, production_version: str, staging_version: str) -> dict:
    (found,) = store.stats(experiment=(production_version, staging_version))["experiments"]
    return found


def test_pair_outcomes_name_which_model_was_right() -> None:
    assert pair_outcome(production_correct=True, staging_correct=True) == "both_correct"
    assert pair_outcome(production_correct=False, staging_correct=True) == "staging_only"
    assert pair_outcome(production_correct=True, staging_correct=False) == "production_only"
    assert pair_outcome(production_correct=False, staging_correct=False) == "both_wrong"
    assert PAIR_OUTCOMES == ("both_correct", "staging_only", "production_only", "both_wrong")


def test_feedback_on_ids_with_a_shadow_counts_the_pair_whichever_variant_served(store: AbStore) -> None:
    # (served variant, served prediction, shadow prediction, true label): Production is v1, Staging v2.
    cases = [
        ("production", "setosa", "setosa", "setosa"),  # both right
        ("staging", "setosa", "setosa", "setosa"),  # both right, served by Staging
        ("production", "setosa", "virginica", "virginica"),  # only Staging (the shadow) right
        ("staging", "virginica", "setosa", "virginica"),  # only Staging (served) right
        ("staging", "setosa", "virginica", "virginica"),  # only Production (the shadow) right
        ("production", "setosa", "setosa", "virginica"),  # both wrong
    ]
    for variant, predicted, shadow, true in cases:
        version, shadow_version = ("1", "2") if variant == "production" else ("2", "1")
        result = store.record_feedback(shadowed(variant, version, predicted, shadow_version, shadow), true)
        assert result["shadow"] == {
            "variant": "staging" if variant == "production" else "production",
            "model_version": shadow_version,
            "predicted": shadow,
            "correct": shadow == true,
        }

    stats = store.stats()
    assert stats["experiments"] == [
        {
            "production_version": "1",
            "staging_version": "2",
            "pairs": 6,
            "both_correct": 2,
            "staging_only": 2,
            "production_only": 1,
            "both_wrong": 1,
        }
    ]
    # Per version: what it served (its confusion counts) and what it scored in shadow.
    v1, v2 = stats["by_version"]["1"], stats["by_version"]["2"]
    assert (v1["labelled"], v1["correct"], v1["shadow"]["labelled"], v1["shadow"]["correct"]) == (3, 1, 3, 2)
    assert (v2["labelled"], v2["correct"], v2["shadow"]["labelled"], v2["shadow"]["correct"]) == (3, 2, 3, 2)
    # The variants' own counts are as before: the label of the prediction each served.
    assert stats["variants"]["production"]["labelled"] == stats["variants"]["staging"]["labelled"] == 3


def test_a_pair_counts_once_whatever_the_spelling_or_the_form(store: AbStore) -> None:
    prediction_id = shadowed("staging", "5", "setosa", "4", "virginica")
    store.record_feedback(prediction_id, "setosa")
    payload, signature = prediction_id.split(".")
    spellings = [prediction_id, f"{prediction_id}==", f"{payload}=.{signature}", f"{payload}.{signature}\n"]
    for spelling in spellings:
        with pytest.raises((InvalidRequestError, DuplicateFeedbackError)):
            store.record_feedback(spelling, "setosa")
    results = store.record_feedback_batch([(spelling, "virginica") for spelling in spellings])
    assert statuses(results) == ["duplicate", "rejected", "rejected", "rejected"]
    assert experiment(store, "4", "5") == {
        "production_version": "4",
        "staging_version": "5",
        "pairs": 1,
        "both_correct": 0,
        "staging_only": 1,
        "production_only": 0,
        "both_wrong": 0,
    }
    assert store.stats()["by_version"]["4"]["shadow"]["labelled"] == 1


def test_ids_without_a_shadow_count_for_their_version_but_not_as_pairs(store: AbStore) -> None:
    store.record_feedback(make_prediction_id("production", "1", "setosa", SECRET), "setosa")
    stats = store.stats()
    assert stats["experiments"] == []
    assert stats["by_version"]["1"]["labelled"] == 1 and stats["by_version"]["1"]["correct"] == 1
    assert experiment(store, "1", "2") == {
        "production_version": "1",
        "staging_version": "2",
        "pairs": 0,
        "both_correct": 0,
        "staging_only": 0,
        "production_only": 0,
        "both_wrong": 0,
    }


def test_a_label_outside_the_shadow_models_classes_is_refused(store: AbStore) -> None:
    classes = {"1": ["setosa", "versicolor", "virginica"], "2": ["setosa", "versicolor"]}
    prediction_id = shadowed("production", "1", "setosa", "2", "setosa")
    with pytest.raises(InvalidRequestError, match="label 'virginica' is not a class of the model v2") as error:
        store.record_feedback(prediction_id, "virginica", classes_of=classes.get)
    assert error.value.field == "label"
    (result,) = store.record_feedback_batch([(prediction_id, "virginica")], classes_of=classes.get)
    assert result["status"] == "rejected" and "model v2" in result["error"]
    assert store.stats()["experiments"] == []
    store.record_feedback(prediction_id, "versicolor", classes_of=classes.get)  # the id was not consumed
    assert experiment(store, "1", "2")["both_wrong"] == 1


def test_experiments_are_kept_apart_by_version_and_selected_by_query(store: AbStore) -> None:
    store.record_feedback_batch(
        [
            (shadowed("production", "1", "a", "2", "a"), "a"),
            (shadowed("production", "1", "a", "3", "b"), "b"),
            (shadowed("staging", "3", "b", "1", "a"), "b"),
            (shadowed("production", "9", "a", "10", "a"), "a"),
        ]
    )
    stats = store.stats()
    assert [(e["production_version"], e["staging_version"], e["pairs"]) for e in stats["experiments"]] == [
        ("1", "2", 1),
        ("1", "3", 2),
        ("9", "10", 1),
    ]
    assert list(stats["by_version"]) == ["1", "2", "3", "9", "10"]  # by number, not as text
    assert experiment(store, "1", "3")["staging_only"] == 2
    assert experiment(store, "2", "1")["pairs"] == 0  # the other way round is another experiment


def test_requests_and_shadow_scoring_count_per_version(store: AbStore) -> None:
    store.recorder.record("production", rows=4, latency_ms=1.0, version="7")
    store.recorder.record("staging", rows=2, latency_ms=1.0, error=True, version="8")
    store.recorder.record_shadow("8", rows=4)
    store.recorder.record_shadow("7", rows=2, error=True)
    assert store.recorder.pending()["version#8"] == {
        "requests": 1,
        "rows": 2,
        "errors": 1,
        f"lat|{latency_bucket(1.0)}": 1,
        "shadow_requests": 1,
        "shadow_rows": 4,
    }
    by_version = store.stats()["by_version"]
    assert (by_version["7"]["requests"], by_version["7"]["rows"], by_version["7"]["errors"]) == (1, 4, 0)
    assert by_version["7"]["shadow"] == {"requests": 1, "rows": 2, "errors": 1, "labelled": 0, "correct": 0}
    assert by_version["8"]["shadow"] == {"requests": 1, "rows": 4, "errors": 0, "labelled": 0, "correct": 0}
    assert store.stats()["variants"]["staging"]["errors"] == 1


def test_a_version_under_both_aliases_pairs_with_itself(store: AbStore) -> None:
    store.record_feedback(shadowed("production", "3", "a", "3", "b"), "b")
    stats = store.stats()
    assert experiment(store, "3", "3")["staging_only"] == 1
    assert (stats["by_version"]["3"]["labelled"], stats["by_version"]["3"]["shadow"]["correct"]) == (1, 1)


def test_a_batch_touching_many_counter_items_stays_within_the_transaction_limit(
    spy: tuple[AbStore, SpyClient],
) -> None:
    store, client = spy
    # Each label its own experiment: four counter items each (variant, two versions, the pair).
    items = [(shadowed("production", str(i), "a", str(i + 1000), "b"), "a") for i in range(150)]
    results = store.record_feedback_batch(items)
    assert statuses(results) == ["recorded"] * 150
    assert max(len(actions) for actions in client.transactions) <= 100
    # 24 labels a chunk: 24 markers, the one variant, 48 versions and 24 experiments make 97 actions.
    assert [len(actions) for actions in client.transactions] == [97] * 6 + [4 * 6 + 1]
    experiments = store.stats()["experiments"]
    assert len(experiments) == 150 and {e["production_only"] for e in experiments} == {1}


def test_reset_zeroes_versions_and_experiments_too(store: AbStore) -> None:
    store.record_feedback(shadowed("production", "1", "a", "2", "a"), "a")
    store.recorder.record("production", version="1")
    store.flush()
    store.reset(actor="api")
    stats = store.stats()
    assert stats["by_version"] == {} and stats["experiments"] == []


def test_version_and_experiment_statistics_of_nothing_are_zeros() -> None:
    assert version_stats({})["correct"] == 0
    assert version_stats({})["shadow"] == {"requests": 0, "rows": 0, "errors": 0, "labelled": 0, "correct": 0}
    assert experiment_stats("1", "2", {})["pairs"] == 0
