"""``[[c_libraries]]``: the C libraries a build links, each built for the target into its sysroot.

Each entry names one library of :data:`C_LIBRARIES` (``name = "zlib"``) and optionally the Debian
source version to build (``version``; absent: the version the builder's Debian suite has). The
-sys crates that look for a system library (``packbin.workspace.c_deps``) find it there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packbin.config.table import Table, suggest
from packbin.errors import ConfigError

#: The libraries packbin builds for a target (``resources/c_sysroot.sh``), by the name
#: ``[[c_libraries]] name`` takes.
C_LIBRARIES = ("zlib", "openssl")

#: Libraries the -sys crates look for that packbin knows by name but does not build yet: named in
#: ``[[c_libraries]]`` they are refused with the way out, not accepted and then failed in the build.
NOT_YET_BUILT = ("libgit2", "curl", "libssh2", "sqlite3", "zstd")

#: Debian's version grammar (deb-version(7)): [epoch:]upstream[-revision], upstream starting with
#: a digit, made of alphanumerics and . + ~ (and - when there is a revision).
_DEBIAN_VERSION_RE = re.compile(r"^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*$")


@dataclass(frozen=True, kw_only=True)
class CLibrary:
    """One ``[[c_libraries]]`` entry: a C library to build for each target of the build."""

    name: str  # one of C_LIBRARIES
    version: str | None = None  # a Debian source version; None: the builder's Debian suite's


def parse_c_libraries(top: Table) -> tuple[CLibrary, ...]:
    """The ``[[c_libraries]]`` array: each name supported ("did you mean"), none twice, no unknown key."""
    top.seen.add("c_libraries")
    raw = top.data.get("c_libraries", [])
    if not isinstance(raw, list):
        raise top.fail("c_libraries", 'must be an array of tables ([[c_libraries]] with name = "zlib")')
    out: list[CLibrary] = []
    for i, item in enumerate(raw):
        lt = Table(top.source, f"c_libraries[{i}]", item)
        name = lt.get("name", str, required=True)
        if name in NOT_YET_BUILT:
            raise ConfigError(
                f"{lt.source}: {lt.key('name')}: packbin does not build {name} yet (it builds "
                + ", ".join(C_LIBRARIES)
                + ")",
                hint=f"turn on the -sys crate's bundled or vendored feature so it builds its own {name}"
                " (see docs/c-dependencies.md), and remove this entry",
            )
        if name not in C_LIBRARIES:
            raise ConfigError(
                f"{lt.source}: {lt.key('name')}: {name!r} is not a C library packbin builds"
                + suggest(name.lower(), (*C_LIBRARIES, *NOT_YET_BUILT)),
                hint="supported: " + ", ".join(C_LIBRARIES),
            )
        version = lt.get("version", str, None)
        if version is not None and not _DEBIAN_VERSION_RE.match(version):
            raise lt.fail("version", f"not a Debian version (like 1:1.2.13.dfsg-1): {version!r}")
        lt.reject_unknown()
        if any(lib.name == name for lib in out):
            raise lt.fail("name", f"{name!r} is listed twice")
        out.append(CLibrary(name=name, version=version))
    return tuple(out)


__all__ = ["C_LIBRARIES", "NOT_YET_BUILT", "CLibrary", "parse_c_libraries"]
