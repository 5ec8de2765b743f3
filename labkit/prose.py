"""Joining generated sentences: library functions return whole sentences without padding; a notebook joins them."""

from __future__ import annotations


def sentences(*parts: str) -> str:
    """Join the non-empty ``parts`` (each one or more whole sentences) with single spaces."""
    return " ".join(part.strip() for part in parts if part and part.strip())
