"""verify-static: run the ELF reader and the static policy over files and directories, and report.

Files named directly are always judged (a non-ELF file fails with "not an ELF file"); directories
are walked recursively in sorted order, without following symlinks, and only their ELF files are
judged. A path that cannot be used at all (missing, unreadable) is a usage error, not a verdict.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packbin.arch import Architecture
from packbin.elf.depinfo import DEP_SECTION, DepList, DepListError, read_dep_list_from
from packbin.elf.parser import parse_elf
from packbin.elf.policy import describe_linkage, is_static, static_problems
from packbin.elf.record import ElfError, ElfInfo, NotElfError
from packbin.errors import CheckFailed, UsageError, display_path
from packbin.util.sizes import human_size

NOT_ELF = "not an ELF file"


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """The verdict on one file. ``info`` is None when the file could not be parsed.

    ``dependencies`` is the file's embedded dependency list (``.dep-v0``) when it was asked for
    and found, ``dependencies_problem`` why one that is there cannot be read; neither changes the
    verdict.
    """

    path: str
    ok: bool
    info: ElfInfo | None
    problems: tuple[str, ...]
    dependencies: DepList | None = None
    dependencies_problem: str | None = None

    def to_json(self) -> dict[str, object]:
        """One entry of ``{"results": [...]}``; ELF fields are null when the file is not parseable ELF."""
        info = self.info
        doc: dict[str, object] = {
            "path": self.path,
            "ok": self.ok,
            "static": is_static(info) if info else False,
            "arch": info.arch if info else None,
            "machine": info.machine if info else None,
            "class": info.elf_class if info else None,
            "endian": info.endian if info else None,
            "type": info.type_name if info else None,
            "interpreter": info.interpreter if info else None,
            "needed": list(info.needed) if info else [],
            "stripped": info.stripped if info else None,
            "problems": list(self.problems),
        }
        if self.dependencies is not None:
            deps = self.dependencies
            doc["dependencies"] = {
                "format": deps.format,
                "count": len(deps.packages),
                "packages": [
                    {"name": p.name, "version": p.version, "source": p.source, "kind": p.kind, "root": p.root}
                    for p in deps.packages
                ],
            }
        elif self.dependencies_problem is not None:
            doc["dependencies_problem"] = self.dependencies_problem
        return doc


def _judge(shown: str, info: ElfInfo, arch: Architecture | None, deps: bool = False) -> VerifyResult:
    problems = static_problems(info, arch)
    if deps and info.section_table is not None:  # no section headers: no section to look for
        found, problem = _dependencies(shown, info, info.section_table[1])
        return VerifyResult(
            path=shown, ok=not problems, info=info, problems=problems, dependencies=found, dependencies_problem=problem
        )
    return VerifyResult(path=shown, ok=not problems, info=info, problems=problems)


def _dependencies(path: str, info: ElfInfo, table: bytes) -> tuple[DepList | None, str | None]:
    """The file's .dep-v0 list, or why it cannot be read: the parser's header and section table are
    reused, so only the name table (and the section, when there is one) are read, with bounds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    try:

        def read(offset: int, length: int) -> bytes:
            data = os.pread(fd, length, offset)
            if len(data) != length:
                raise DepListError(f"short read at {offset:#x} (file changed while reading?)")
            return data

        return read_dep_list_from(read, info.size, header=info.header, table=table), None
    except ElfError as e:
        return None, str(e)
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    finally:
        os.close(fd)


def _failed(shown: str, problem: str) -> VerifyResult:
    return VerifyResult(path=shown, ok=False, info=None, problems=(problem,))


def verify_file(path: Path, arch: Architecture | None) -> VerifyResult:
    """Judge one file: parse it and apply the static policy (for ``arch`` when given).

    Never raises for a bad file: not ELF, malformed or unreadable each become a failed result.
    """
    shown = str(path)
    try:
        info = parse_elf(path)
    except NotElfError:
        return _failed(shown, NOT_ELF)
    except ElfError as e:
        return _failed(shown, f"malformed ELF file: {e}")
    except OSError as e:
        return _failed(shown, f"cannot read: {e.strerror or e}")
    return _judge(shown, info, arch)


def _walk(top: str, arch: Architecture | None, deps: bool) -> Iterator[VerifyResult]:
    """ELF files under ``top``, depth first in name order; symlinks and special files skipped.

    Iterative (a stack of sorted listings), so no depth of directories exhausts the recursion limit.
    """
    stack: list[Iterator[os.DirEntry[str]]] = []
    listing = _listing(top)
    if isinstance(listing, VerifyResult):
        yield listing
        return
    stack.append(listing)
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                sub = _listing(entry.path)
                if isinstance(sub, VerifyResult):
                    yield sub
                else:
                    stack.append(sub)
                continue
            if not entry.is_file(follow_symlinks=False):
                continue  # symlinks (their targets are checked where they live), FIFOs, sockets, devices
            info = parse_elf(entry.path)
        except NotElfError:
            continue
        except ElfError as e:
            yield _failed(entry.path, f"malformed ELF file: {e}")
            continue
        except OSError as e:
            yield _failed(entry.path, f"cannot read: {e.strerror or e}")
            continue
        yield _judge(entry.path, info, arch, deps)


def _listing(path: str) -> Iterator[os.DirEntry[str]] | VerifyResult:
    """The entries of ``path`` sorted by name, or the failure to read it."""
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        return _failed(path, f"cannot read directory: {e.strerror or e}")
    return iter(entries)


def verify_paths(paths: Sequence[str], arch: Architecture | None, *, deps: bool = False) -> list[VerifyResult]:
    """Judge every named file, and every ELF file under every named directory, in order.

    With ``deps``, each result also carries the file's embedded dependency list (or its problem).

    A named path that does not exist or cannot be read raises :class:`UsageError`.
    """
    results: list[VerifyResult] = []
    for given in paths:
        try:
            st = os.stat(given)  # a symlink named directly is followed: the user asked for it
        except FileNotFoundError:
            raise UsageError(f"{given}: no such file or directory") from None
        except OSError as e:
            raise UsageError(f"{given}: cannot access: {e.strerror or e}") from e
        if stat.S_ISDIR(st.st_mode):
            if not os.access(given, os.R_OK | os.X_OK):
                raise UsageError(f"{given}: cannot read directory: permission denied")
            results.extend(_walk(given, arch, deps))
        elif not stat.S_ISREG(st.st_mode):
            results.append(_failed(given, "not a regular file"))
        else:
            try:
                info = parse_elf(given)
            except NotElfError:
                results.append(_failed(given, NOT_ELF))
            except ElfError as e:
                results.append(_failed(given, f"malformed ELF file: {e}"))
            except OSError as e:
                raise UsageError(f"{given}: cannot read: {e.strerror or e}") from e
            else:
                results.append(_judge(given, info, arch, deps))
    return results


def render_table(results: Sequence[VerifyResult], *, deps: bool = False) -> str:
    """A table (path, arch, linkage, size, verdict), each failure's problems under its row; with
    ``deps``, each ELF file's embedded dependencies under it too."""
    header: tuple[str, ...] = ("PATH", "ARCH", "LINKAGE", "SIZE", "VERDICT")
    rows: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    for r in results:
        info = r.info
        cells: tuple[str, ...] = (
            display_path(r.path),
            (info.arch or f"EM_{info.machine}") if info else "-",
            describe_linkage(info) if info else "-",
            human_size(info.size) if info else "-",
            "ok" if r.ok else "FAIL",
        )
        rows.append((cells, r.problems, _dependency_lines(r) if deps and info else ()))
    widths = [max([len(header[i]), *(len(cells[i]) for cells, _, _ in rows)]) for i in range(len(header))]
    widths[0] = min(widths[0], 72)  # longer paths push their row out instead of every row

    def line(cells: tuple[str, ...]) -> str:
        # Size is right-aligned; the last column is not padded.
        parts = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(cells[:-1], widths))]
        return "  ".join([*parts, cells[-1]]).rstrip()

    out = [line(header)]
    for row, problems, dep_lines in rows:
        out.append(line(row))
        out.extend(f"    - {p}" for p in problems)
        out.extend(dep_lines)
    failed = sum(1 for r in results if not r.ok)
    noun = "file" if len(results) == 1 else "files"
    out.append(
        f"{len(results)} {noun}: {len(results) - failed} ok, {failed} failed" if results else "no ELF files found"
    )
    return "\n".join(out) + "\n"


def _dependency_lines(r: VerifyResult) -> tuple[str, ...]:
    """What --deps prints under a file's row: its packages, why they cannot be read, or none."""
    if r.dependencies_problem is not None:
        return (f"    dependencies: the {DEP_SECTION} section cannot be used: {_printable(r.dependencies_problem)}",)
    if r.dependencies is None:
        return (f"    dependencies: none embedded (no {DEP_SECTION} section)",)
    packages = r.dependencies.packages
    noun = "package" if len(packages) == 1 else "packages"
    head = f"    dependencies: {len(packages)} {noun} (format {r.dependencies.format})"
    lines = [head]
    for p in packages:
        build, root = (", build" if p.kind == "build" else ""), (" (root)" if p.root else "")
        lines.append(f"      {_printable(p.name)} {_printable(p.version)} {_printable(p.source)}{build}{root}")
    return tuple(lines)


def _printable(text: str) -> str:
    """A name from the file as the terminal should see it: control characters escaped, not obeyed."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def render_json(results: Sequence[VerifyResult]) -> str:
    """``{"results": [...]}``, one entry per file (see :meth:`VerifyResult.to_json`)."""
    return json.dumps({"results": [r.to_json() for r in results]}, indent=2) + "\n"


def run_verify_static(
    paths: Sequence[str], arch: Architecture | None, *, as_json: bool, out: TextIO, deps: bool = False
) -> None:
    """The verify-static command: judge ``paths``, print a table or JSON to ``out``.

    The JSON has each file's embedded dependency list (``.dep-v0``); the table only with ``deps``.

    Raises :class:`CheckFailed` (exit 1) when any file fails, :class:`UsageError` (exit 2) when
    there is nothing to check or a path cannot be used.
    """
    if not paths:
        raise UsageError(
            "no paths given",
            hint="name files or directories to check, e.g. `packbin verify-static dist/ --also /usr/local/bin/tool`",
        )
    results = verify_paths(paths, arch, deps=deps or as_json)
    if not results:
        if not as_json:  # under --json the error document is the output (see tasks.py)
            out.write(render_table(results))
            out.flush()
        raise UsageError(
            "no ELF files found under " + ", ".join(display_path(p) for p in paths),
            hint="name an ELF file or a directory that holds one; non-ELF files in directories are skipped",
        )
    out.write(render_json(results) if as_json else render_table(results, deps=deps))
    out.flush()
    failed = [r for r in results if not r.ok]
    if failed:
        what = f" for {arch.name}" if arch else ""
        raise CheckFailed(f"{len(failed)} of {len(results)} files failed the static check{what}")
