"""Signed, self-describing prediction ids."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from mlops_core.exceptions import ConfigurationError, InvalidRequestError
from mlops_core.prediction_ids import (
    DEFAULT_SECRET,
    MAX_ID_CHARS,
    default_secret,
    make_prediction_id,
    make_prediction_ids,
    parse_prediction_id,
)

SECRET = "s3cret"
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("setosa", "setosa"),
        ("Iris|virginica: a.b", "Iris|virginica: a.b"),
        ("", ""),
        ("ünïcødé", "ünïcødé"),
        (3, 3),
        (np.int64(-2), -2),
        (np.str_("Adelie"), "Adelie"),
        (0.25, 0.25),
        (True, True),
        (np.bool_(False), False),
    ],
)
def test_round_trip_keeps_variant_version_and_label_type(label: object, expected: object) -> None:
    prediction_id = make_prediction_id("staging", "12", label, SECRET)
    assert URL_SAFE.match(prediction_id)
    variant, version, parsed = parse_prediction_id(prediction_id, SECRET)
    assert (variant, version, parsed) == ("staging", "12", expected)
    assert type(parsed) is type(expected)


def test_identical_predictions_get_distinct_ids() -> None:
    ids = {make_prediction_id("production", 3, "setosa", SECRET) for _ in range(1000)}
    assert len(ids) == 1000


def test_batch_ids_equal_single_ids_in_meaning_and_are_distinct() -> None:
    labels = np.array(["a", "b", "a", "c"] * 250)
    ids = make_prediction_ids("production", "7", labels, SECRET)
    assert len(set(ids)) == 1000
    assert [parse_prediction_id(i, SECRET) for i in ids[:4]] == [
        ("production", "7", "a"),
        ("production", "7", "b"),
        ("production", "7", "a"),
        ("production", "7", "c"),
    ]
    assert make_prediction_ids("staging", "1", [], SECRET) == []


@pytest.mark.parametrize(
    ("variant", "version", "label", "message"),
    [
        ("canary", "1", "a", "unknown variant"),
        ("production", "v1", "a", "not a registry version"),
        ("production", "1\n", "a", "not a registry version"),
        ("production", "1", float("nan"), "not finite"),
        ("production", "1", "x" * 300, "longer than"),
        ("production", "1", ["a"], "cannot go into a prediction id"),
        ("production", "1", None, "cannot go into a prediction id"),
    ],
)
def test_making_an_id_rejects_bad_parts(variant: str, version: str, label: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_prediction_id(variant, version, label, SECRET)


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        make_prediction_id("production", "1", "a", "")


def _forge(payload: bytes, signature: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(payload)}.{b64(signature)}"


def _tampered() -> str:
    genuine = make_prediction_id("staging", "2", "setosa", SECRET)
    payload_part, signature_part = genuine.split(".")
    payload = base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4))
    changed = payload.replace(b"s|2|", b"p|2|")  # claim it was Production
    return _forge(changed, base64.urlsafe_b64decode(signature_part + "=" * (-len(signature_part) % 4)))


@pytest.mark.parametrize(
    ("prediction_id", "message"),
    [
        (None, "non-empty string"),
        (17, "non-empty string"),
        ("", "non-empty string"),
        ("x" * (MAX_ID_CHARS + 1), "longer than"),
        ("nodot", "malformed"),
        ("abc.", "malformed"),
        (".abc", "malformed"),
        ("a$b.cde", "malformed"),
        ("ab.c", "malformed"),  # one base64 character cannot decode
        ("é.abc", "malformed"),
        (_forge(b"p|1|nonce|s:a", b"\0" * 15), "malformed"),  # signature of the wrong length
        (_forge(b"p|1|nonce|s:a", b"\0" * 16), "does not verify"),
        (_tampered(), "does not verify"),
        (make_prediction_id("production", "1", "a", "other-secret"), "does not verify"),
    ],
)
def test_malformed_or_forged_ids_are_refused(prediction_id: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as error:
        parse_prediction_id(prediction_id, SECRET)
    assert error.value.field == "prediction_id"


def test_a_signed_payload_of_an_unknown_format_is_malformed() -> None:
    import hashlib
    import hmac

    for payload in (b"x|1|n|s:a", b"p|1|n|q:a", b"p|1", b"\xff|1|n|s:a", b"p|1|n|i:notanint"):
        signature = hmac.new(SECRET.encode(), payload, hashlib.sha256).digest()[:16]
        with pytest.raises(InvalidRequestError, match="malformed"):
            parse_prediction_id(_forge(payload, signature), SECRET)


def test_default_secret_prefers_the_dedicated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREDICTION_ID_SECRET", raising=False)
    monkeypatch.delenv("API_KEY", raising=False)
    assert default_secret() == DEFAULT_SECRET
    monkeypatch.setenv("API_KEY", "key")
    assert default_secret() == "key"
    monkeypatch.setenv("PREDICTION_ID_SECRET", "dedicated")
    assert default_secret() == "dedicated"


def _spellings(prediction_id: str) -> set[str]:
    """Other spellings a lenient base64 decoder reads as the same bytes: padding, the standard alphabet's `+`
    and `/`, characters it skips, and every other choice of the last character (trailing bits)."""
    payload, signature = prediction_id.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spellings = set()
    for part, rebuild in ((payload, lambda p: f"{p}.{signature}"), (signature, lambda s: f"{payload}.{s}")):
        for suffix in ("=", "==", "===", "\n", " ", "."):
            spellings.add(rebuild(part + suffix))
        spellings.add(rebuild(part.replace("-", "+").replace("_", "/")))
        spellings.add(rebuild(f"{part[:2]}={part[2:]}"))
        spellings.update(rebuild(part[:-1] + char) for char in alphabet)
    spellings.discard(prediction_id)
    return spellings


def test_only_the_canonical_spelling_of_an_id_is_accepted() -> None:
    for label in ("setosa", "Iris|virginica: a.b", 3, 0.25, True):
        genuine = make_prediction_id("production", "7", label, SECRET)
        assert parse_prediction_id(genuine, SECRET) == ("production", "7", label)
        others = _spellings(genuine)
        lenient = [
            other
            for other in others
            if all(
                _lenient(part) == _lenient(real)
                for part, real in zip(other.split(".", 1), genuine.split("."), strict=True)
            )
        ]
        assert len(lenient) > 10  # the lenient decoder read each of these as the genuine id, signature and all
        for other in lenient:
            with pytest.raises(InvalidRequestError, match="malformed"):
                parse_prediction_id(other, SECRET)
        for other in others:
            with pytest.raises(InvalidRequestError):
                parse_prediction_id(other, SECRET)


def _lenient(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


@pytest.mark.parametrize("suffix", ["==", "="])
def test_padding_is_refused_on_either_part(suffix: str) -> None:
    payload, signature = make_prediction_id("staging", "2", "setosa", SECRET).split(".")
    for spelling in (f"{payload}.{signature}{suffix}", f"{payload}{suffix}.{signature}"):
        with pytest.raises(InvalidRequestError, match="malformed"):
            parse_prediction_id(spelling, SECRET)
