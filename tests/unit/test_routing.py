from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal

import numpy as np
import pytest
from mlops_core.exceptions import InvalidRequestError, NoModelError
from mlops_core.routing import choose_variant, key_position, validate_share

KEYS = [f"user-{i}" for i in range(20_000)]


def production_share_of(keys: list[str], share: float) -> float:
    return sum(choose_variant(share, key=k) == "production" for k in keys) / len(keys)


def test_same_key_same_variant():
    for key in KEYS[:200]:
        first = choose_variant(0.5, key=key)
        assert all(choose_variant(0.5, key=key) == first for _ in range(3))


def test_assignment_does_not_depend_on_the_process():
    # blake2b, not Python's salted hash(): the position of a key is fixed across processes and machines.
    assert key_position("user-1") == key_position("user-1")
    assert key_position("") != key_position("user-1")
    positions = [key_position(k) for k in KEYS[:1000]]
    assert all(0.0 <= p < 1.0 for p in positions)
    assert len(set(positions)) == 1000


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_keys_split_by_the_share(share):
    # Binomial SE over 20,000 keys is at most 0.0036; 4 SE would flag a biased hash.
    assert production_share_of(KEYS, share) == pytest.approx(share, abs=4 * math.sqrt(share * (1 - share) / len(KEYS)))


def test_raising_the_share_only_moves_keys_to_production():
    shares = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]
    assignments = {s: [choose_variant(s, key=k) for k in KEYS[:5000]] for s in shares}
    for low, high in itertools.pairwise(shares):
        for before, after in zip(assignments[low], assignments[high], strict=True):
            assert not (before == "production" and after == "staging")
        assert assignments[high].count("production") >= assignments[low].count("production")


def test_extreme_shares_send_everyone_one_way():
    assert {choose_variant(0.0, key=k) for k in KEYS[:2000]} == {"staging"}
    assert {choose_variant(1.0, key=k) for k in KEYS[:2000]} == {"production"}
    rng = random.Random(0)
    assert {choose_variant(0, rng=rng) for _ in range(2000)} == {"staging"}
    assert {choose_variant(1, rng=rng) for _ in range(2000)} == {"production"}


def test_random_assignment_follows_the_share_and_the_rng():
    rng = random.Random(7)
    picks = [choose_variant(0.3, rng=rng) for _ in range(20_000)]
    assert picks.count("production") / len(picks) == pytest.approx(0.3, abs=4 * math.sqrt(0.3 * 0.7 / 20_000))
    replay = random.Random(7)
    assert [choose_variant(0.3, rng=replay) for _ in range(500)] == picks[:500]
    without_rng = {choose_variant(0.5) for _ in range(200)}
    assert without_rng == {"production", "staging"}


@pytest.mark.parametrize(
    ("has_production", "has_staging", "expected"),
    [(True, False, "production"), (False, True, "staging")],
)
@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_falls_back_to_the_variant_that_exists(has_production, has_staging, expected, share):
    for key in [None, *KEYS[:50]]:
        chosen = choose_variant(share, key=key, has_production=has_production, has_staging=has_staging)
        assert chosen == expected


def test_no_variant_at_all_is_an_error():
    with pytest.raises(NoModelError):
        choose_variant(0.5, key="u", has_production=False, has_staging=False)


def test_non_string_key_is_rejected():
    with pytest.raises(InvalidRequestError) as caught:
        choose_variant(0.5, key=42)  # type: ignore[arg-type]
    assert caught.value.field == "key"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (1, 1.0), (0.25, 0.25), (Decimal("0.7"), 0.7), (np.float32(0.5), 0.5), (np.int64(1), 1.0)],
)
def test_validate_share_accepts_numbers_in_range(value, expected):
    share = validate_share(value)
    assert share == expected
    assert type(share) is float


@pytest.mark.parametrize(
    "value",
    [
        None,
        "0.5",
        True,
        False,
        [0.5],
        math.nan,
        math.inf,
        -math.inf,
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        -0.01,
        1.0001,
        2,
        Decimal("-1"),
        np.float64("nan"),
    ],
)
def test_validate_share_rejects_bad_values(value):
    with pytest.raises(InvalidRequestError) as caught:
        validate_share(value)
    assert caught.value.field == "production"
    assert "production share" in str(caught.value)


def test_choose_variant_validates_the_share():
    with pytest.raises(InvalidRequestError) as caught:
        choose_variant(1.5, key="u")
    assert caught.value.field == "production"
