"""The two model variants of the A/B test. They are also the registry's alias names: the variant a request is
routed to is the alias whose model answers it."""

from __future__ import annotations

from typing import Final, Literal

Variant = Literal["production", "staging"]

PRODUCTION: Final = "production"
STAGING: Final = "staging"
VARIANTS: Final[tuple[Variant, Variant]] = (PRODUCTION, STAGING)
