"""Byte counts for people: the one size format of every report ("512 B", "321 KiB", "4.2 MiB")."""

from __future__ import annotations


def human_size(n: int) -> str:
    """``n`` bytes as B below 1 KiB, whole KiB below 1 MiB, MiB with one decimal above."""
    if n < 1024:
        return f"{n} B"
    if n < 1 << 20:
        return f"{n / 1024:.0f} KiB"
    return f"{n / (1 << 20):.1f} MiB"


__all__ = ["human_size"]
