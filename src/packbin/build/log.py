"""Reading a build container's log as it streams: cargo's lock waits in packbin's words, and the
paths a failed build could not find (for the missing-input hint).

Pure text: the build container (build/container.py) feeds it the lines; nothing here talks to an engine or reads files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

#: cargo's line when another cargo holds a lock it needs (the shared cargo home's package cache,
#: a build directory): ``    Blocking waiting for file lock on package cache``.
LOCK_WAIT = re.compile(r"^\s*Blocking waiting for file lock on (?P<what>.+?)\s*$")

#: Words of a failure to open a file: Rust's io::Error (``No such file or directory (os error 2)``,
#: ``Os { code: 2, kind: NotFound, .. }``), rustc's ``couldn't read `PATH```, build scripts' own words.
_NOT_FOUND = re.compile(
    r"No such file or directory|os error 2|kind: NotFound|failed to read|couldn't read|could not read|can't open",
    re.IGNORECASE,
)

#: ``error: failed to run custom build command for `crate v0.1.0 (/build/src/crate)```: whose build
#: script failed (it runs in that package's directory, so its relative paths start there).
_BUILD_COMMAND = re.compile(r"failed to run custom build command for `[^`(]*\((?P<dir>[^)`]+)\)`")

#: The build script's ``building BIN for TARGET`` step line.
_BUILDING = re.compile(r"^building (?P<bin>\S+) for \S+$")

#: A path-like word: quoted (backticks, single or double quotes) or bare, with a slash in it.
_QUOTED = re.compile(r"`([^`]+)`|'([^']+)'|\"([^\"]+)\"")
_TRIM = ":,;()[]{}"


def lock_wait_line(what: str, others: Iterable[str]) -> str:
    """cargo's ``Blocking waiting for file lock on WHAT`` as packbin says it: which builds share
    the lock (the cargo home volume is shared by every build on an engine)."""
    names = sorted(others)
    if what == "package cache":
        holder = (
            f"{' or '.join(f'{n}' for n in names)}'s cargo" if names else "another packbin run's cargo on this engine"
        )
        return f"waiting for {holder} to release the shared package cache (cargo's lock on the cargo home volume)"
    holder = f"{' or '.join(names)}'s cargo" if names else "another cargo"
    return f"waiting for {holder} to release the {what} (cargo's lock)"


def path_words(line: str) -> list[str]:
    """The words of ``line`` that look like paths (a slash in them), quoted ones first."""
    out: list[str] = []
    for m in _QUOTED.finditer(line):
        word = next(g for g in m.groups() if g is not None)
        if "/" in word and " " not in word.strip():
            out.append(word.strip())
    for word in _QUOTED.sub(" ", line).split():
        word = word.strip(_TRIM)
        if "/" in word and "://" not in word:
            out.append(word)
    return list(dict.fromkeys(out))


def to_checkout(word: str, *, src_mount: str, bases: Iterable[str]) -> list[str]:
    """Where ``word`` (a path as the container saw it) is in the checkout: repository-relative
    POSIX paths, best first. An absolute path counts only under ``src_mount`` (where the sources
    are mounted); a relative one is tried from each base (package directories, repository-relative).
    Paths that leave the repository are dropped."""
    mount = src_mount.rstrip("/") + "/"
    if word.startswith("/"):
        if not word.startswith(mount):
            return []
        candidates = [word[len(mount) :]]
    else:
        candidates = [posixpath.join(base, word) for base in bases]
    out: list[str] = []
    for c in candidates:
        rel = posixpath.normpath(c)
        if rel in (".", "", "..") or rel.startswith(("../", "/")):
            continue
        out.append(rel)
    return list(dict.fromkeys(out))


@dataclass
class FailureClues:
    """What a build's log says about files it could not find, gathered line by line."""

    src_mount: str
    not_found: list[str] = field(default_factory=list)  # lines with the words of a missing file
    script_dirs: list[str] = field(default_factory=list)  # packages (rel) whose build script failed
    binary: str = ""  # the bin being built when the lines came

    def feed(self, line: str) -> None:
        """Take one log line (already stripped of packbin's ``::packbin-step`` marker)."""
        if m := _BUILDING.match(line):
            self.binary = m["bin"]
        if m := _BUILD_COMMAND.search(line):
            where = m["dir"].rstrip("/")
            rel = (
                ""
                if where == self.src_mount.rstrip("/")
                else next(iter(to_checkout(where, src_mount=self.src_mount, bases=())), None)
            )
            if rel is not None and rel not in self.script_dirs:
                self.script_dirs.append(rel)
        if _NOT_FOUND.search(line) and len(self.not_found) < 200:
            self.not_found.append(line)

    def paths(self, package_dir: str) -> list[str]:
        """Repository-relative paths the failed build named as missing; relative ones are read
        from the failing build script's package, else from the bin's package (``package_dir``)."""
        bases = [*self.script_dirs, package_dir]
        out: list[str] = []
        for line in self.not_found:
            for word in path_words(line):
                out.extend(to_checkout(word, src_mount=self.src_mount, bases=bases))
        return list(dict.fromkeys(out))
