"""Self-describing, signed prediction ids: feedback needs no table of past predictions.

An id carries the variant, the model version and the predicted label, plus a random nonce so two identical
predictions get different ids (feedback is deduplicated per id). In shadow mode it also carries the version and
the prediction of the other variant's model, which scored the same row: the label then counts for a pair. It is
`base64url(payload) "." base64url(HMAC-SHA256(secret, payload)[:16])`, URL-safe and without padding. The payload
is `<variant code>|<version>|<nonce>|<label>` without a shadow, and
`<VARIANT CODE>|<version>|<nonce>|<shadow version>|<length of label>|<label><shadow label>` with one (the code in
upper case), where each label is `<type>:<text>` and the shadow label is empty when it equals the served one, so
a shadow usually costs about five bytes. The labels come last, so they may contain any character.
Labels keep their JSON type (str, int, float, bool) through the round trip.

Parsing is strict: each part must be the canonical encoding of its bytes (the URL-safe alphabet only, no
padding, zero trailing bits), so every genuine id has exactly one accepted spelling and the id itself can key
feedback de-duplication. A lenient base64 decoder accepts thousands of spellings of one id (`==` appended,
`+` for `-`, stray characters, other trailing bits).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from mlops_core import settings
from mlops_core.exceptions import ConfigurationError, InvalidRequestError
from mlops_core.variants import PRODUCTION, STAGING, Variant

Label = str | int | float | bool

# Used only when neither PREDICTION_ID_SECRET nor API_KEY is set, so the local demo works unconfigured.
# Every instance must share the secret (feedback may reach another Lambda instance than the prediction did),
# which rules out a random per-process default. Anyone who knows this constant can forge ids: deployments set
# a secret.
DEFAULT_SECRET = "mlops-demo-prediction-id-secret"

MAX_LABEL_CHARS = 256
MAX_ID_CHARS = 1024
_SIGNATURE_BYTES = 16  # 128 bits of HMAC: ample against forgery, and keeps ids short
_NONCE_BYTES = 9  # 72 random bits: collisions are negligible at any prediction volume we serve
_VARIANT_CODES: dict[str, str] = {PRODUCTION: "p", STAGING: "s"}
_VARIANTS_BY_CODE = {code: variant for variant, code in _VARIANT_CODES.items()}
_SHADOWED_BY_CODE = {code.upper(): variant for variant, code in _VARIANT_CODES.items()}  # ids with a shadow
_OTHER = {PRODUCTION: STAGING, STAGING: PRODUCTION}
_VERSION = re.compile(r"^[0-9]{1,12}$")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_FIELD = "prediction_id"


def default_secret() -> str:
    """PREDICTION_ID_SECRET, else API_KEY (already a deployment secret), else DEFAULT_SECRET."""
    return settings.get(settings.PREDICTION_ID_SECRET) or settings.get(settings.API_KEY) or DEFAULT_SECRET


@dataclass(frozen=True)
class SignedPrediction:
    """What a genuine id says: the served prediction and, in shadow mode, the other variant's on the same row."""

    variant: Variant
    version: str
    label: Label
    shadow_version: str | None = None  # None: no shadow scored this row (shadow mode off, or it failed)
    shadow_label: Label | None = None

    @property
    def shadow_variant(self) -> Variant | None:
        """The variant whose model made the shadow prediction: always the other one."""
        return None if self.shadow_version is None else _OTHER[self.variant]


def make_prediction_id(
    variant: str,
    version: str | int,
    predicted_label: object,
    secret: str,
    *,
    shadow_version: str | int | None = None,
    shadow_label: object = None,
) -> str:
    """A new signed id for one prediction, with the other variant's (`shadow_version`, `shadow_label`) when
    given. Raises ValueError for an unknown variant, a non-numeric version or a label that is not a
    str/int/float/bool (numpy scalars are accepted), not finite, or too long."""
    shadow_labels = None if shadow_version is None else [shadow_label]
    return make_prediction_ids(
        variant, version, [predicted_label], secret, shadow_version=shadow_version, shadow_labels=shadow_labels
    )[0]


def make_prediction_ids(
    variant: str,
    version: str | int,
    predicted_labels: Iterable[object],
    secret: str,
    *,
    shadow_version: str | int | None = None,
    shadow_labels: Iterable[object] | None = None,
) -> list[str]:
    """make_prediction_id for every label of a batch (a list or a numpy array), with one random draw and each
    distinct label (or pair of labels) encoded once: about 2.5 µs per row. `shadow_labels`, one per label, go
    with `shadow_version`. Same errors, and ValueError when only one of the two is given or their lengths
    differ."""
    code = _VARIANT_CODES.get(variant)
    if code is None:
        raise ValueError(f"unknown variant {variant!r}: expected one of {sorted(_VARIANT_CODES)}")
    version = _checked_version(version)
    labels = _as_list(predicted_labels)
    if (shadow_version is None) != (shadow_labels is None):
        raise ValueError("shadow_version and shadow_labels go together: give both or neither")
    shadows: list[object] | None = None
    if shadow_labels is not None:
        shadow_version = _checked_version(shadow_version)
        shadows = _as_list(shadow_labels)
        if len(shadows) != len(labels):
            raise ValueError(f"{len(shadows)} shadow labels for {len(labels)} labels: give one per label")
        code = code.upper()
    width = _NONCE_BYTES * 4 // 3  # base64 of whole 3-byte groups has no padding
    randomness = base64.urlsafe_b64encode(os.urandom(_NONCE_BYTES * len(labels))).decode()
    prefix = f"{code}|{version}|"
    prototype = _keyed_hmac(secret)
    encoded: dict[tuple, str] = {}
    ids = []
    for i, label in enumerate(labels):
        shadow = None if shadows is None else shadows[i]
        key = (_cache_key(label), None if shadows is None else _cache_key(shadow))
        tail = encoded.get(key)
        if tail is None:
            tail = encoded[key] = _encode_tail(label, shadow_version, shadow, shadows is not None)
        payload = f"{prefix}{randomness[i * width : (i + 1) * width]}|{tail}".encode()
        mac = prototype.copy()
        mac.update(payload)
        ids.append(f"{_b64(payload)}.{_b64(mac.digest()[:_SIGNATURE_BYTES])}")
    return ids


def parse_prediction_id(prediction_id: object, secret: str) -> tuple[Variant, str, Label]:
    """(variant, version, predicted_label) of a genuine id; parse_signed_prediction tells its shadow too."""
    signed = parse_signed_prediction(prediction_id, secret)
    return signed.variant, signed.version, signed.label


def parse_signed_prediction(prediction_id: object, secret: str) -> SignedPrediction:
    """What a genuine id says. Raises InvalidRequestError(field="prediction_id") for anything malformed, a
    spelling other than the canonical one included, and for ids whose signature does not verify (forged,
    altered, or signed with another secret). An id made without a shadow has shadow_version None."""
    if not isinstance(prediction_id, str) or not prediction_id:
        raise InvalidRequestError("prediction_id must be a non-empty string", field=_FIELD)
    if len(prediction_id) > MAX_ID_CHARS:
        raise InvalidRequestError(f"prediction_id is longer than {MAX_ID_CHARS} characters", field=_FIELD)
    encoded_payload, dot, encoded_signature = prediction_id.partition(".")
    try:
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except (ValueError, binascii.Error):
        raise InvalidRequestError("prediction_id is malformed", field=_FIELD) from None
    if not dot or not payload or len(signature) != _SIGNATURE_BYTES:
        raise InvalidRequestError("prediction_id is malformed", field=_FIELD)
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        raise InvalidRequestError("prediction_id does not verify: forged or issued elsewhere", field=_FIELD)
    # A verified payload came from make_prediction_id, yet a future format change must still fail cleanly.
    try:
        return _decode_payload(payload.decode())
    except (UnicodeDecodeError, ValueError, KeyError):
        raise InvalidRequestError("prediction_id is malformed", field=_FIELD) from None


def _decode_payload(text: str) -> SignedPrediction:
    code, version, _nonce, rest = text.split("|", 3)
    _checked_version(version)  # versions name counter items: never trust one that is not a version number
    if code in _VARIANTS_BY_CODE:
        return SignedPrediction(_VARIANTS_BY_CODE[code], version, _decode_label(rest))
    shadow_version, length, labels = rest.split("|", 2)
    _checked_version(shadow_version)
    size = int(length)
    if str(size) != length or not 0 < size <= len(labels):
        raise ValueError(f"label length {length!r} does not fit the payload")
    label_text, shadow_text = labels[:size], labels[size:]
    label = _decode_label(label_text)
    shadow_label = label if not shadow_text else _decode_label(shadow_text)
    return SignedPrediction(_SHADOWED_BY_CODE[code], version, label, shadow_version, shadow_label)


def _checked_version(version: str | int | None) -> str:
    text = str(version)
    if not _VERSION.fullmatch(text):
        raise ValueError(f"model version {text!r} is not a registry version number")
    return text


def _as_list(labels: Iterable[object]) -> list[object]:
    return labels.tolist() if hasattr(labels, "tolist") else list(labels)  # type: ignore[attr-defined]


def _cache_key(label: object) -> tuple[type, object]:
    # By value for plain scalars; anything else (an odd object) by identity, so it is never hashed.
    return (type(label), label if isinstance(label, str | int | float) else id(label))


def _encode_tail(label: object, shadow_version: object, shadow: object, shadowed: bool) -> str:
    """The payload after the nonce: the label, or the shadow's version, the label's length and both labels."""
    text = _encode_label(label)
    if not shadowed:
        return text
    shadow_text = _encode_label(shadow)
    return f"{shadow_version}|{len(text)}|{text}{'' if shadow_text == text else shadow_text}"


@lru_cache(maxsize=8)
def _keyed_hmac(secret: str) -> hmac.HMAC:
    # Copies of a keyed HMAC skip re-hashing the key: ids are minted per row on the batch predict path.
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError("the prediction id secret must be a non-empty string")
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _sign(payload: bytes, secret: str) -> bytes:
    mac = _keyed_hmac(secret).copy()
    mac.update(payload)
    return mac.digest()[:_SIGNATURE_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """The bytes of `text` when it is their canonical unpadded base64url encoding; ValueError otherwise."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # non-zero trailing bits, or a length no encoding has
        raise ValueError("not the canonical encoding")
    return data


def _encode_label(label: object) -> str:
    if hasattr(label, "item") and not isinstance(label, str | bytes):
        label = label.item()  # numpy scalar -> Python scalar
    if isinstance(label, bool):
        return f"b:{int(label)}"
    if isinstance(label, int):
        return f"i:{label}"
    if isinstance(label, float):
        if not math.isfinite(label):
            raise ValueError(f"predicted label {label!r} is not finite")
        return f"f:{label!r}"
    if isinstance(label, str):
        if len(label) > MAX_LABEL_CHARS:
            raise ValueError(f"predicted label is longer than {MAX_LABEL_CHARS} characters")
        return f"s:{label}"
    raise ValueError(f"predicted label of type {type(label).__name__} cannot go into a prediction id")


def _decode_label(text: str) -> Label:
    kind, _, value = text.partition(":")
    if kind == "s":
        return value
    if kind == "i":
        return int(value)
    if kind == "f":
        return float(value)
    if kind == "b" and value in ("0", "1"):
        return value == "1"
    raise ValueError(f"unknown label encoding {kind!r}")
