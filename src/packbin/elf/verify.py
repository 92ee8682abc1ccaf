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
from packbin.elf.parser import parse_elf
from packbin.elf.policy import describe_linkage, is_static, static_problems
from packbin.elf.record import ElfError, ElfInfo, NotElfError
from packbin.errors import CheckFailed, UsageError, display_path
from packbin.util.sizes import human_size

NOT_ELF = "not an ELF file"


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """The verdict on one file. ``info`` is None when the file could not be parsed."""

    path: str
    ok: bool
    info: ElfInfo | None
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """One entry of ``{"results": [...]}``; ELF fields are null when the file is not parseable ELF."""
        info = self.info
        return {
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


def _judge(shown: str, info: ElfInfo, arch: Architecture | None) -> VerifyResult:
    problems = static_problems(info, arch)
    return VerifyResult(path=shown, ok=not problems, info=info, problems=problems)


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


def _walk(top: str, arch: Architecture | None) -> Iterator[VerifyResult]:
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
        yield _judge(entry.path, info, arch)


def _listing(path: str) -> Iterator[os.DirEntry[str]] | VerifyResult:
    """The entries of ``path`` sorted by name, or the failure to read it."""
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        return _failed(path, f"cannot read directory: {e.strerror or e}")
    return iter(entries)


def verify_paths(paths: Sequence[str], arch: Architecture | None) -> list[VerifyResult]:
    """Judge every named file, and every ELF file under every named directory, in order.

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
            results.extend(_walk(given, arch))
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
                results.append(_judge(given, info, arch))
    return results


def render_table(results: Sequence[VerifyResult]) -> str:
    """A table (path, arch, linkage, size, verdict), each failure's problems under its row."""
    header: tuple[str, ...] = ("PATH", "ARCH", "LINKAGE", "SIZE", "VERDICT")
    rows: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for r in results:
        info = r.info
        cells: tuple[str, ...] = (
            display_path(r.path),
            (info.arch or f"EM_{info.machine}") if info else "-",
            describe_linkage(info) if info else "-",
            human_size(info.size) if info else "-",
            "ok" if r.ok else "FAIL",
        )
        rows.append((cells, r.problems))
    widths = [max([len(header[i]), *(len(cells[i]) for cells, _ in rows)]) for i in range(len(header))]
    widths[0] = min(widths[0], 72)  # longer paths push their row out instead of every row

    def line(cells: tuple[str, ...]) -> str:
        # Size is right-aligned; the last column is not padded.
        parts = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(cells[:-1], widths))]
        return "  ".join([*parts, cells[-1]]).rstrip()

    out = [line(header)]
    for row, problems in rows:
        out.append(line(row))
        out.extend(f"    - {p}" for p in problems)
    failed = sum(1 for r in results if not r.ok)
    noun = "file" if len(results) == 1 else "files"
    out.append(
        f"{len(results)} {noun}: {len(results) - failed} ok, {failed} failed" if results else "no ELF files found"
    )
    return "\n".join(out) + "\n"


def render_json(results: Sequence[VerifyResult]) -> str:
    """``{"results": [...]}``, one entry per file (see :meth:`VerifyResult.to_json`)."""
    return json.dumps({"results": [r.to_json() for r in results]}, indent=2) + "\n"


def run_verify_static(paths: Sequence[str], arch: Architecture | None, *, as_json: bool, out: TextIO) -> None:
    """The verify-static command: judge ``paths``, print a table or JSON to ``out``.

    Raises :class:`CheckFailed` (exit 1) when any file fails, :class:`UsageError` (exit 2) when
    there is nothing to check or a path cannot be used.
    """
    if not paths:
        raise UsageError(
            "no paths given",
            hint="name files or directories to check, e.g. `packbin verify-static dist/ --also /usr/local/bin/tool`",
        )
    results = verify_paths(paths, arch)
    if not results:
        if not as_json:  # under --json the error document is the output (see tasks.py)
            out.write(render_table(results))
            out.flush()
        raise UsageError(
            "no ELF files found under " + ", ".join(display_path(p) for p in paths),
            hint="name an ELF file or a directory that holds one; non-ELF files in directories are skipped",
        )
    out.write(render_json(results) if as_json else render_table(results))
    out.flush()
    failed = [r for r in results if not r.ok]
    if failed:
        what = f" for {arch.name}" if arch else ""
        raise CheckFailed(f"{len(failed)} of {len(results)} files failed the static check{what}")
