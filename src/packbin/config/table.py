"""Reading buildcfg.toml: its bytes (bounded, a regular file only) and its tables, checked key by
key with the exact dotted path in every message and "did you mean ...?" for unknown keys.
model.py (with architectures.py, builder.py, binaries.py) turns the checked tables into BuildConfig.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packbin.errors import ConfigError

#: A name in buildcfg.toml (architecture, alias, binary, pack, cargo profile, docker context).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

__all__ = ["MAX_CONFIG_BYTES", "Table", "kind_name", "read_config_bytes", "suggest"]

#: A buildcfg.toml is a few kilobytes; past this it is not one (PACKBIN_CONFIG=/dev/zero, a log).
MAX_CONFIG_BYTES = 1 << 20


def suggest(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Table:
    """A TOML table being read: tracks its dotted path and which keys were consumed."""

    def __init__(self, source: Path, path: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: {path or 'top level'} must be a table, got {type(data).__name__}")
        self.source = source
        self.path = path
        self.data: Mapping[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted path of key ``name`` in this table (``builder.env``)."""
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> ConfigError:
        """A ConfigError naming the file and the key's dotted path."""
        return ConfigError(f"{self.source}: {self.key(name)}: {problem}")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., *, required: bool = False) -> Any:
        """The value of ``name`` checked against ``kind``; ``default`` when absent, ConfigError when required."""
        self.seen.add(name)
        if name not in self.data:
            if required or default is ...:
                # A typo of a required key would otherwise only show up as "missing".
                typo = difflib.get_close_matches(name, [k for k in self.data if isinstance(k, str)], n=1)
                if typo:
                    raise self.fail(typo[0], f"unknown key (did you mean {name!r}?)")
                raise self.fail(name, "missing (required)")
            return default
        value = self.data[name]
        # bool is an int subclass: never accept it where a number is asked for.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(name, f"expected {kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"expected {kind_name(kind)}, got {type(value).__name__} {value!r}")
        return value

    def str_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The value of ``name`` as a tuple of strings."""
        value = self.get(name, list, list(default))
        for item in value:
            if not isinstance(item, str):
                raise self.fail(name, f"expected a list of strings, found {item!r}")
        return tuple(value)

    def table(self, name: str) -> Table:
        """The sub-table ``name`` (empty when absent), read with the same checks."""
        self.seen.add(name)
        return Table(self.source, self.key(name), self.data.get(name, {}))

    def reject_unknown(self) -> None:
        """ConfigError for the first key nobody asked for, with a suggestion."""
        for name in self.data:
            if name not in self.seen:
                raise self.fail(name, "unknown key" + suggest(name, self.seen))


def kind_name(kind: type | tuple[type, ...]) -> str:
    """``a string``, ``an integer or a list``: the TOML kinds a key accepts, for messages."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def read_config_bytes(source: Path) -> bytes:
    """The file's bytes: a regular file of at most MAX_CONFIG_BYTES, never a device or a FIFO."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: no such file", hint="run from the repository root, or set PACKBIN_CONFIG"
        ) from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{source}: not a regular file", hint="point PACKBIN_CONFIG at a buildcfg.toml")
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror}") from e
    finally:
        os.close(fd)
    if total > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES >> 20} MiB, not a buildcfg.toml")
    return b"".join(chunks)
