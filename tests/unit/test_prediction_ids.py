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
    SignedPrediction,
    default_secret,
    make_prediction_id,
    make_prediction_ids,
    parse_prediction_id,
    parse_signed_prediction,
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
    # Fixed ids: a signed id holds a random nonce, and both test workers must collect the same names.
    ids=[
        "none",
        "int",
        "empty",
        "too-long",
        "no-dot",
        "empty-signature",
        "empty-payload",
        "not-base64",
        "one-char",
        "not-ascii",
        "short-signature",
        "forged-signature",
        "tampered",
        "other-secret",
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


# shadow predictions
@pytest.mark.parametrize(
    ("label", "shadow", "expected"),
    [
        ("setosa", "virginica", ("setosa", "virginica")),
        ("setosa", "setosa", ("setosa", "setosa")),
        ("a|b:c", "|", ("a|b:c", "|")),
        (np.int64(3), 3.0, (3, 3.0)),
        (True, 1, (True, 1)),
        (np.str_("Adelie"), np.str_("Gentoo"), ("Adelie", "Gentoo")),
    ],
)
def test_an_id_with_a_shadow_carries_the_other_variants_version_and_prediction(
    label: object, shadow: object, expected: tuple
) -> None:
    prediction_id = make_prediction_id("staging", "12", label, SECRET, shadow_version="3", shadow_label=shadow)
    assert URL_SAFE.match(prediction_id)
    signed = parse_signed_prediction(prediction_id, SECRET)
    assert signed == SignedPrediction("staging", "12", expected[0], "3", expected[1])
    assert (type(signed.label), type(signed.shadow_label)) == tuple(type(value) for value in expected)
    assert signed.shadow_variant == "production"
    assert parse_prediction_id(prediction_id, SECRET) == ("staging", "12", expected[0])


def test_an_id_without_a_shadow_says_so() -> None:
    signed = parse_signed_prediction(make_prediction_id("production", "4", "a", SECRET), SECRET)
    assert signed == SignedPrediction("production", "4", "a")
    assert (signed.shadow_version, signed.shadow_label, signed.shadow_variant) == (None, None, None)


def test_ids_issued_before_shadow_mode_still_verify_and_count_unpaired() -> None:
    import hashlib
    import hmac

    # The payload format of every id issued before shadow mode existed, signed as they were.
    payload = b"s|7|AAAAAAAAAAAA|s:setosa"
    old = _forge(payload, hmac.new(SECRET.encode(), payload, hashlib.sha256).digest()[:16])
    assert parse_signed_prediction(old, SECRET) == SignedPrediction("staging", "7", "setosa")


def test_a_shadow_that_agrees_costs_a_few_characters_and_one_that_differs_its_label() -> None:
    plain = make_prediction_id("production", "1", "versicolor", SECRET)
    agreeing = make_prediction_id(
        "production", "1", "versicolor", SECRET, shadow_version="2", shadow_label="versicolor"
    )
    differing = make_prediction_id("production", "1", "versicolor", SECRET, shadow_version="2", shadow_label="setosa")
    assert len(agreeing) - len(plain) <= 8  # "|2|12" in the payload, base64 grows it by a third
    assert len(differing) - len(agreeing) <= 11  # "s:setosa"


def test_batch_ids_with_shadows_pair_each_label_with_its_own_shadow() -> None:
    labels, shadows = ["a", "b", "a", "c"] * 250, ["a", "a", "b", "c"] * 250
    ids = make_prediction_ids("production", "7", np.array(labels), SECRET, shadow_version="8", shadow_labels=shadows)
    assert len(set(ids)) == 1000
    parsed = [parse_signed_prediction(i, SECRET) for i in ids]
    assert [(p.label, p.shadow_label) for p in parsed] == list(zip(labels, shadows, strict=True))
    assert {(p.variant, p.version, p.shadow_version) for p in parsed} == {("production", "7", "8")}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shadow_version": "2"}, "give both or neither"),
        ({"shadow_labels": ["a"]}, "give both or neither"),
        ({"shadow_version": "2", "shadow_labels": ["a", "b"]}, "2 shadow labels for 1 labels"),
        ({"shadow_version": "v2", "shadow_labels": ["a"]}, "not a registry version"),
        ({"shadow_version": "2", "shadow_labels": [float("inf")]}, "not finite"),
        ({"shadow_version": "2", "shadow_labels": [None]}, "cannot go into a prediction id"),
    ],
)
def test_making_an_id_rejects_bad_shadow_parts(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_prediction_ids("production", "1", ["a"], SECRET, **kwargs)


def test_only_the_canonical_spelling_of_an_id_with_a_shadow_is_accepted() -> None:
    genuine = make_prediction_id("staging", "3", "setosa", SECRET, shadow_version="2", shadow_label="virginica")
    for other in _spellings(genuine):
        with pytest.raises(InvalidRequestError):
            parse_signed_prediction(other, SECRET)


@pytest.mark.parametrize(
    "payload",
    [
        b"P|1|n|2|9|s:a",  # the label length runs past the payload
        b"P|1|n|2|03|s:a",  # a length with a leading zero: not how ids are made
        b"P|1|n|2|0|s:a",
        b"P|1|n|2|x|s:a",
        b"P|1|n|2|3|s:aq:b",  # a shadow label of an unknown type
        b"P|1|n|v2|3|s:a",  # a shadow version that is not a version number
        b"P|1|n|s:a",  # a shadow code without the shadow's parts
        b"X|1|n|2|3|s:a",
        b"p|1 |n|s:a",
    ],
)
def test_a_signed_shadow_payload_of_an_unknown_format_is_malformed(payload: bytes) -> None:
    import hashlib
    import hmac

    signature = hmac.new(SECRET.encode(), payload, hashlib.sha256).digest()[:16]
    with pytest.raises(InvalidRequestError, match="malformed"):
        parse_signed_prediction(_forge(payload, signature), SECRET)
