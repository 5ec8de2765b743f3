"""Joining generated sentences: library functions return whole sentences without padding; a notebook joins them."""

from __future__ import annotations


def sentences(*parts: str) -> str:
    """Join the non-empty ``parts`` (each one or more whole sentences) with single spaces."""
    return " ".join(part.strip() for part in parts if part and part.strip())


def points(fraction: float) -> str:
    """An accuracy difference given as a fraction, in percentage points: 0.01 -> '1 point', 0.025 -> '2.5 points'."""
    value = fraction * 100
    return f"{value:g} point" + ("" if value == 1 else "s")
