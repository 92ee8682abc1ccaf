"""packbin: static musl pack binaries, cross-built through the Docker Engine API, verified, deployed."""

from __future__ import annotations

__version__ = "0.1.0"
