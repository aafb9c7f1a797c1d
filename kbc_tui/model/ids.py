"""Ids proposed for names: ``Přehled tržeb`` -> ``prehled-trzeb``, ``売上`` -> ``maishang``.

anyascii transliterates any script to ASCII (Czech diacritics dropped, Chinese and Japanese as pinyin-like
syllables, Cyrillic and Greek romanised); what is left beyond ``a-z0-9`` becomes ``-``."""

from __future__ import annotations

import re
from typing import Callable, Container

from kbc_tui.model.component import ID_PATTERN

MAX_ID = 64
FALLBACK = "orchestration"


def slug(name: str, fallback: str = FALLBACK) -> str:
    """The id a name suggests: transliterated, lowercase, other characters as single dashes, <= 64 chars."""
    from anyascii import anyascii

    text = re.sub(r"[^a-z0-9]+", "-", anyascii(name).lower()).strip("-")
    text = text[:MAX_ID].rstrip("-")
    return text if ID_PATTERN.fullmatch(text) else fallback


def unique_id(base: str, taken: Container[str] | Callable[[str], bool]) -> str:
    """``base``, or ``base-2``, ``base-3``... the first that is not taken (still <= 64 characters)."""
    is_taken = taken if callable(taken) else taken.__contains__
    if not is_taken(base):
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[:MAX_ID - len(suffix)].rstrip("-") + suffix
        if not is_taken(candidate):
            return candidate
        n += 1
