"""Which model variant answers a prediction request during the A/B test.

With a key (a user or session id) the assignment is sticky: the key's hash is a fixed point u in [0, 1) and
the request goes to Production iff u < production share. The same key therefore always gets the same
variant for a given share, and raising the share only moves keys from Staging to Production.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import random
from decimal import Decimal
from typing import Any

from mlops_core.exceptions import InvalidRequestError, NoModelError
from mlops_core.quoting import echo
from mlops_core.variants import PRODUCTION, STAGING, Variant

# Separates these hashes from any other use of blake2b on the same ids.
_HASH_PERSON = b"mlops-ab-route"


def validate_share(value: Any) -> float:
    """The Production share of traffic as a float in [0, 1]; DynamoDB's Decimal is accepted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise InvalidRequestError(
            f"production share must be a number between 0 and 1, got {type(value).__name__}", field=PRODUCTION
        )
    try:
        share = float(value)
    except (ValueError, OverflowError) as error:  # e.g. Decimal("sNaN")
        raise InvalidRequestError(f"production share {echo(value)} is not a finite number", field=PRODUCTION) from error
    if not math.isfinite(share):
        raise InvalidRequestError(f"production share {echo(value)} is not a finite number", field=PRODUCTION)
    if not 0.0 <= share <= 1.0:
        raise InvalidRequestError(f"production share must be between 0 and 1, got {share}", field=PRODUCTION)
    return share


def key_position(key: str) -> float:
    """The key's fixed point in [0, 1) from its blake2b hash."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=_HASH_PERSON).digest()
    # 53 bits, a float's precision: with all 64 the largest hashes would round up to 1.0.
    return (int.from_bytes(digest, "big") >> 11) / 2.0**53


def choose_variant(
    production_share: float,
    *,
    key: str | None = None,
    rng: random.Random | None = None,
    has_production: bool = True,
    has_staging: bool = True,
) -> Variant:
    """Production with probability `production_share` (sticky per key when one is given); when only one
    variant is registered, that one."""
    share = validate_share(production_share)
    if not has_production and not has_staging:
        raise NoModelError("neither a production nor a staging model is registered")
    if not has_staging:
        return PRODUCTION
    if not has_production:
        return STAGING
    if key is not None:
        if not isinstance(key, str):
            raise InvalidRequestError(f"routing key must be a string, got {type(key).__name__}", field="key")
        position = key_position(key)
    else:
        position = (rng or random).random()
    return PRODUCTION if position < share else STAGING
