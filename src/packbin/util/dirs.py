"""Where packbin keeps its host-side cache and state.

Both come from platformdirs (XDG on Linux, ~/Library on macOS), each with an environment override
for CI and tests, and are created on first use. The cache dir carries a ``CACHEDIR.TAG``
(https://bford.info/cachedir/) so backup tools and ``tar --exclude-caches`` skip it; the state dir
does not, because what is kept there (locks, records of what the tool created) is not cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from packbin.errors import PackbinError
from packbin.util.atomic import atomic_write_bytes

__all__ = ["CACHEDIR_TAG", "CACHEDIR_TAG_SIGNATURE", "cache_dir", "read_record", "state_dir"]

APP_NAME = "packbin"
CACHE_ENV = "PACKBIN_CACHE_DIR"
STATE_ENV = "PACKBIN_STATE_DIR"

CACHEDIR_TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
CACHEDIR_TAG = (
    CACHEDIR_TAG_SIGNATURE
    + b"\n# This file is a cache directory tag created by packbin.\n"
    + b"# For information about cache directory tags, see:\n"
    + b"#\thttps://bford.info/cachedir/\n"
)


def cache_dir() -> Path:
    """Return packbin's cache directory, creating it (with a ``CACHEDIR.TAG``) if needed.

    ``$PACKBIN_CACHE_DIR`` overrides the platform default (``~/.cache/packbin`` on Linux).
    """
    path = _resolve(CACHE_ENV, platformdirs.user_cache_path(APP_NAME, appauthor=False))
    _ensure_dir(path, CACHE_ENV)
    tag = path / "CACHEDIR.TAG"
    try:
        # Rewritten only when missing or wrong, so a read-only but tagged cache still works; the
        # atomic write keeps two runs creating it at once from leaving a torn tag.
        with open(tag, "rb") as f:
            intact = f.read(len(CACHEDIR_TAG_SIGNATURE)) == CACHEDIR_TAG_SIGNATURE
    except OSError:
        intact = False
    if not intact:
        try:
            atomic_write_bytes(tag, CACHEDIR_TAG)
        except OSError as e:
            raise _unusable(path, CACHE_ENV, e) from e
    return path


def state_dir() -> Path:
    """Return packbin's state directory, creating it if needed.

    ``$PACKBIN_STATE_DIR`` overrides the platform default (``~/.local/state/packbin`` on Linux).
    """
    path = _resolve(STATE_ENV, platformdirs.user_state_path(APP_NAME, appauthor=False))
    _ensure_dir(path, STATE_ENV)
    return path


def _resolve(env: str, default: Path) -> Path:
    # An empty variable counts as unset, as it usually means "cleared" in CI configs.
    override = os.environ.get(env, "")
    path = Path(override).expanduser() if override else default
    # Callers keep the returned path; absolute, it stays right after they chdir.
    return path.resolve()


def _ensure_dir(path: Path, env: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unusable(path, env, e) from e


def _unusable(path: Path, env: str, error: OSError) -> PackbinError:
    return PackbinError(
        f"cannot use {path} as packbin's directory: {error.strerror or error}",
        hint=f"make it writable, or point ${env} at a writable directory",
    )


def read_record(path: Path) -> dict[str, Any]:
    """A JSON object kept in the cache dir; {} when missing, unreadable or not an object (a
    record is only ever a shortcut: losing it costs work, never correctness)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
