"""How messages quote what a caller sent: briefly, so an error never echoes a 10 MB input back."""

from __future__ import annotations

from typing import Any

MAX_ECHO = 100


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """`text` when it has at most `limit` characters, else its start, an ellipsis and its length."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def echo(value: Any, limit: int = MAX_ECHO) -> str:
    """How a message quotes input: repr() of at most `limit` characters of it, then how long it really was."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text)} characters)"
