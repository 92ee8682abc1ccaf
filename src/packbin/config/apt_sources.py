"""``mirror = "auto"``: the Debian mirror this host's apt already uses.

Air-gapped and proxied sites point apt at an internal mirror; the builder (debootstrap and the
image's apt) should use the same one rather than Debian's public address. The host's sources are
read the way apt reads them: ``/etc/apt/sources.list`` (one-line ``deb [options] URI suite
components`` entries), then ``/etc/apt/sources.list.d/*.list`` and ``*.sources`` (deb822
stanzas: ``Types:``, ``URIs:``, ``Suites:``, ``Components:``, ``Enabled:``) in name order. The first
binary (``deb``) entry over http(s) with a Debian release suite (``bookworm``, ``stable``, ...:
not ``-security``, ``-updates``, not a third-party suite) and the ``main`` component wins.
Parsing is pure (:func:`debian_mirror_from_sources`); only :func:`host_debian_mirror` reads files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Debian's public mirror: the fallback when the host names none (not Debian, or no apt).
DEFAULT_MIRROR = "http://deb.debian.org/debian"

#: Debian release names and aliases a main-archive entry carries (not a derivative's).
DEBIAN_SUITES = frozenset(
    {
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
        "sid",
        "oldoldstable",
        "oldstable",
        "stable",
        "testing",
        "unstable",
    }
)


@dataclass(frozen=True, kw_only=True)
class AptEntry:
    """One binary or source entry, from either format."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    enabled: bool = True


def parse_one_line(text: str) -> Iterator[AptEntry]:
    """``deb [arch=amd64 signed-by=...] http://host/debian bookworm main contrib`` lines."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # options
        words = line.split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        yield AptEntry(types=(words[0],), uris=(words[1],), suites=(words[2],), components=tuple(words[3:]))


def parse_deb822(text: str) -> Iterator[AptEntry]:
    """deb822 ``.sources`` stanzas, separated by blank lines; ``#`` lines are comments."""
    fields: dict[str, str] = {}
    last: str | None = None

    def stanza() -> Iterator[AptEntry]:
        if fields:
            yield AptEntry(
                types=tuple(fields.get("types", "").split()),
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                enabled=fields.get("enabled", "yes").strip().lower() not in ("no", "false", "0"),
            )

    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            yield from stanza()
            fields, last = {}, None
        elif raw[0] in " \t" and last is not None:
            fields[last] += " " + raw.strip()  # a continuation line
        elif ":" in raw:
            key, _, value = raw.partition(":")
            last = key.strip().lower()
            fields[last] = value.strip()


def debian_mirror_from_sources(files: Iterable[tuple[str, str]]) -> str | None:
    """The first Debian main-archive URI in ``(file name, text)`` pairs, in the order given."""
    for name, text in files:
        entries = parse_deb822(text) if name.endswith(".sources") else parse_one_line(text)
        for e in entries:
            if not e.enabled or "deb" not in e.types or "main" not in e.components:
                continue
            if not any(s in DEBIAN_SUITES for s in e.suites):
                continue
            for uri in e.uris:
                if re.match(r"^https?://", uri):
                    return uri.rstrip("/")
    return None


def apt_source_files(etc_apt: Path) -> list[tuple[str, str]]:
    """``(name, text)`` of sources.list, then sources.list.d/*.list and *.sources in name order, as apt reads them."""
    paths = [etc_apt / "sources.list"]
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        paths += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    out: list[tuple[str, str]] = []
    for p in paths:
        try:
            out.append((p.name, p.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return out


def host_debian_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The host apt's Debian mirror, else :data:`DEFAULT_MIRROR`."""
    return debian_mirror_from_sources(apt_source_files(etc_apt)) or DEFAULT_MIRROR
