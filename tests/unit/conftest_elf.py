"""Shared helpers for the ELF verifier's tests (test_elf_*, test_policy, test_verify), imported
explicitly: tests/conftest.py belongs to the whole suite."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import elf_fixtures
from elf_fixtures import Fixture

FIXTURE_NAMES = elf_fixtures.fixture_names()


@functools.cache
def all_fixtures() -> dict[str, Fixture]:
    """Every fixture, built on first use (minutes the first time, cached on disk afterwards)."""
    return elf_fixtures.build_all()


def elf_fixture(name: str) -> Fixture:
    """The named fixture; skips when its toolchain is missing on this machine (rustc)."""
    fixtures = all_fixtures()
    if name not in fixtures:
        if name.startswith("rust-"):
            pytest.skip("no x86_64 host rustc (rustup's ~/.cargo/bin or PATH)")
        raise AssertionError(f"fixture {name} was not built")
    return fixtures[name]
