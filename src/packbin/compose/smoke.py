"""smoke-pack-binaries: run every built binary inside an empty image, on the engine.

Each binary of the selected architectures (from dist/pack-binaries/manifest.json) goes into an
image built ``FROM scratch`` with nothing but that one file, for the architecture's Docker
platform, and runs there: ``--version`` for every binary, plus a bounded run of the core timer
sensor whose JSON events are checked. A binary that needs anything from its image (a dynamic
loader, a libc, a shell) cannot start in an empty one, which is the point.

Native architectures always run. Foreign ones run when the engine can execute them
(binfmt_misc + qemu, see :mod:`packbin.engine.binfmt`); otherwise they are skipped with the reason.
Skipped is reported but is not a failure; any failed run raises :class:`CheckFailed` after every
run has been tried and reported.

Smoke containers are removed (the engine's container context manager does it); the images stay,
labelled ``io.packbin.kind=smoke`` and tagged by content hash, so an unchanged binary reuses its
image; ``clean --all`` removes them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packbin.arch import Architecture
from packbin.build.deploy_arch import resolve_deploy_arch
from packbin.compose.smoke_report import SmokeReport, SmokeRun, SmokeSkip
from packbin.config.model import BuildConfig
from packbin.dist.layout import manifest_relpath
from packbin.dist.manifest import Artifact, Manifest
from packbin.elf.verify import verify_file
from packbin.engine import KIND_LABEL, OWNER_LABEL, Engine, connect
from packbin.engine.binfmt import ForeignExec, foreign_exec
from packbin.errors import CheckFailed, EngineError, UsageError
from packbin.util.digest import sha256_file
from packbin.util.tarwriter import tar_bytes

log = logging.getLogger(__name__)

SMOKE_REPO = "packbin/smoke"
SMOKE_KIND = "smoke"
SHA_LABEL = "io.packbin.sha256"
ARCH_LABEL = "io.packbin.arch"
BINARY_LABEL = "io.packbin.binary"

#: The core pack's timer sensor gets a bounded run on top of ``--version``.
SENSOR_NAME = "attune-core-timer-sensor"
SENSOR_COUNT = 2
SENSOR_ARGS = ("--count", str(SENSOR_COUNT), "--interval-ms", "100")
VERSION_ARGS = ("--version",)
#: A smoke run that has not exited by then is killed and counts as failed. Generous because
#: qemu-user start-up of a foreign binary on a loaded CI runner takes seconds.
RUN_TIMEOUT_S = 60.0

_EXEC_FORMAT = "exec format error"


@dataclass(frozen=True, kw_only=True)
class _Case:
    """One argument list to run and how to judge its output."""

    args: tuple[str, ...]
    check: Callable[[list[str], Architecture], str | None]


def run_smoke(cfg: BuildConfig, *, arch: str | None, out: TextIO, engine: Engine | None = None) -> SmokeReport:
    """Smoke-run the built binaries of ``arch`` (None: the deploy architecture; "all"; names).

    Returns the report when every run passed (skips allowed); raises CheckFailed naming the
    failed runs otherwise, UsageError when nothing was built for the selection.
    """
    manifest_path = cfg.root / manifest_relpath(cfg)
    if not manifest_path.is_file():
        raise UsageError(
            f"{manifest_relpath(cfg)} does not exist: nothing has been built yet",
            hint=f"run `invoke build-pack-binaries --arch={arch or 'all'}` first",
        )
    manifest = Manifest.load(manifest_path, missing_ok=False)
    engine = engine or connect()
    info = engine.info()
    arches = _select(cfg, arch, engine)
    selected = [a for a in manifest.artifacts if a.arch in {x.name for x in arches}]
    if not selected:
        names = ", ".join(a.name for a in arches)
        raise UsageError(
            f"{manifest_relpath(cfg)} lists no built binary for {names}",
            hint=f"run `invoke build-pack-binaries --arch={arch or arches[0].name}` first",
        )
    native = cfg.arch_for_platform(info.platform)
    native_name = native.name if native is not None else info.architecture
    local = engine.endpoint.host.startswith(("unix://", "npipe://"))
    _say(out, f"smoke: engine {info.endpoint} ({info.source}), native platform {info.platform}")

    runs: list[SmokeRun] = []
    skipped: list[SmokeSkip] = []
    for a in arches:
        arts = sorted((x for x in selected if x.arch == a.name), key=lambda x: x.binary)
        if not arts:
            skipped.append(SmokeSkip(arch=a.name, binary="*", reason="nothing built for this architecture"))
            _say(out, f"[{a.name}] skipped: nothing built (manifest lists no {a.name} binary)")
            continue
        can = foreign_exec(a, native=native_name, local_engine=local)
        if can.runnable is False:
            for art in arts:
                skipped.append(SmokeSkip(arch=a.name, binary=art.binary, reason=can.reason, hint=can.hint))
            _say(
                out,
                f"[{a.name}] skipped {', '.join(x.binary for x in arts)}: the engine cannot execute {a.name} binaries: {can.reason}",
            )
            if can.hint:
                _say(out, f"[{a.name}]   hint: {can.hint}")
            continue
        for art in arts:
            r, s = _smoke_binary(engine, cfg, a, art, can, out)
            runs.extend(r)
            if s is not None:
                skipped.append(s)

    report = SmokeReport(
        endpoint=info.endpoint, native_platform=info.platform, runs=tuple(runs), skipped=tuple(skipped)
    )
    passed = sum(1 for r in report.runs if r.ok)
    _say(out, f"smoke: {passed} run(s) passed, {len(report.failed)} failed, {len(report.skipped)} skipped")
    if report.failed:
        raise CheckFailed(
            "smoke run failed:\n  " + "\n  ".join(f"{r.arch}/{r.command}: {r.problem}" for r in report.failed),
            hint="a pack binary must run from an empty image: build it static (invoke build-pack-binaries) and check it with `invoke verify-static`",
        )
    return report


def _select(cfg: BuildConfig, spec: str | None, engine: Engine) -> tuple[Architecture, ...]:
    # Unlike build (whose default is default_arch), smoke defaults to what would be deployed on
    # this engine: that is the binary a `docker compose up` here would run.
    if spec is None or not spec.strip():
        return (resolve_deploy_arch(cfg, None, engine),)
    return cfg.select_arches(spec)


def _smoke_binary(
    engine: Engine,
    cfg: BuildConfig,
    arch: Architecture,
    art: Artifact,
    can: ForeignExec,
    out: TextIO,
) -> tuple[list[SmokeRun], SmokeSkip | None]:
    prefix = f"[{arch.name}]"
    path = _inside(cfg.root, art.path)
    if path is None or not path.is_file():
        return [_not_run(arch, art, f"{art.path} is missing (listed in the manifest)", out)], None
    sha = sha256_file(path)
    if sha != art.sha256:
        problem = f"{art.path} changed since it was built (sha256 {sha[:12]}, manifest says {art.sha256[:12]})"
        return [_not_run(arch, art, problem, out)], None
    tag = f"{SMOKE_REPO}:{arch.name}-{sha[:12]}"
    built = _ensure_image(engine, tag=tag, arch=arch, art=art, path=path)
    _say(
        out,
        f"{prefix} {art.binary}: image {tag} ({'built' if built else 'reused'}), platform {arch.docker_platform} ({can.reason})",
    )

    cases = [_Case(args=VERSION_ARGS, check=_check_version(art.binary))]
    if art.binary == SENSOR_NAME:
        cases.append(_Case(args=SENSOR_ARGS, check=_check_events))
    runs: list[SmokeRun] = []
    for case in cases:
        run = _run_case(engine, arch, art, tag, case, out)
        if not run.ok and can.runnable is None and _EXEC_FORMAT in (run.problem or "").lower():
            # The engine's emulation could not be inspected beforehand (remote engine, a VM):
            # "exec format error" is its answer, and that is a skip, not a broken binary.
            skip = SmokeSkip(
                arch=arch.name,
                binary=art.binary,
                reason=f"the engine cannot execute {arch.name} binaries ({can.reason})",
            )
            _say(out, f"{prefix} skipped {art.binary}: {skip.reason}")
            return runs, skip
        runs.append(run)
        if not run.started:
            break  # it cannot start at all: the next case would say the same
    if any(not r.ok for r in runs):
        _explain(arch, path, out)
    return runs, None


def _ensure_image(engine: Engine, *, tag: str, arch: Architecture, art: Artifact, path: Path) -> bool:
    """Build ``FROM scratch`` + the binary unless an image of that content is present; True if built."""
    labels = engine.image_labels(tag)
    if labels.get(SHA_LABEL) == art.sha256 and labels.get(ARCH_LABEL) == arch.name:
        return False
    name = Path(art.path).name
    dockerfile = f'FROM scratch\nCOPY {name} /{name}\nENTRYPOINT ["/{name}"]\n'
    context = tar_bytes({"Dockerfile": dockerfile.encode(), name: (path.read_bytes(), 0o755)})
    engine.build_image(
        context=context,
        tag=tag,
        platform=arch.docker_platform,
        labels={
            OWNER_LABEL: "packbin",
            KIND_LABEL: SMOKE_KIND,
            SHA_LABEL: art.sha256,
            ARCH_LABEL: arch.name,
            BINARY_LABEL: art.binary,
        },
    )
    return True


def _run_case(engine: Engine, arch: Architecture, art: Artifact, tag: str, case: _Case, out: TextIO) -> SmokeRun:
    prefix = f"[{arch.name}]"
    _say(out, f"{prefix}   $ {' '.join((art.binary, *case.args))}")
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        _say(out, f"{prefix}   | {line}")

    t0 = time.monotonic()
    exit_code: int | None = None
    problem: str | None = None
    timed_out = threading.Event()
    with engine.container(image=tag, command=list(case.args), kind=SMOKE_KIND, platform=arch.docker_platform) as c:

        def kill() -> None:
            timed_out.set()
            c.kill()

        watchdog = threading.Timer(RUN_TIMEOUT_S, kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            exit_code = c.run_streaming(on_line=on_line)
        except EngineError as e:
            # The engine refused to start the process: for a file that is there, that means the
            # kernel could not execute it (a missing ELF interpreter reads "no such file").
            problem = f"could not start: {_start_error(e.message)}"
        finally:
            watchdog.cancel()
    seconds = time.monotonic() - t0
    exec_failure = _exec_failure(lines, art) if exit_code not in (None, 0) else None
    if exec_failure is not None:
        # Newer runc reports a failed execve as the container's own output and exit status 1
        # (older ones make the start call fail): the same thing, the binary never ran.
        problem = f"could not start: {_start_error(exec_failure)}"
    if problem is None:
        if timed_out.is_set():
            problem = f"did not exit within {RUN_TIMEOUT_S:.0f} s (killed)"
        elif exit_code != 0:
            problem = f"exited with status {exit_code}"
        else:
            problem = case.check(lines, arch)
    verdict = "ok" if problem is None else f"FAILED: {problem}"
    status = (
        "not started" if exit_code is None else f"exit {exit_code}" + ("" if exec_failure is None else ", not started")
    )
    _say(out, f"{prefix}   -> {status}, {seconds:.1f}s, {verdict}")
    return SmokeRun(
        arch=arch.name,
        binary=art.binary,
        image=tag,
        platform=arch.docker_platform,
        args=case.args,
        exit_code=exit_code,
        started=exit_code is not None and exec_failure is None,
        output=tuple(lines),
        problem=problem,
        seconds=seconds,
    )


def _exec_failure(lines: list[str], art: Artifact) -> str | None:
    """runc's "exec /<binary>: <reason>" line when that is all the container printed."""
    text = [ln.strip() for ln in lines if ln.strip()]
    entry = f"exec /{Path(art.path).name}: "
    if len(text) == 1 and text[0].startswith(entry):
        return text[0]
    return None


def _start_error(message: str) -> str:
    """The useful tail of the engine's "OCI runtime create failed: ..." message."""
    text = message.strip()
    for marker in ("starting container process caused: ", "starting container process caused "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = text.removesuffix(": unknown").strip()
    if "no such file or directory" in text.lower():
        text += " (the binary is there: the kernel could not find what it needs to load it, usually the dynamic loader of a dynamically linked binary)"
    return text


def _explain(arch: Architecture, path: Path, out: TextIO) -> None:
    """After a failed run, say what the verifier thinks of the file: usually the real cause."""
    result = verify_file(path, arch)
    if result.ok:
        _say(
            out,
            f"[{arch.name}]   verifier: {path.name} is a static {arch.name} executable; the failure is its own behaviour",
        )
    else:
        _say(out, f"[{arch.name}]   verifier: " + "; ".join(result.problems))


def _check_version(binary: str) -> Callable[[list[str], Architecture], str | None]:
    def check(lines: list[str], arch: Architecture) -> str | None:
        text = [ln for ln in lines if ln.strip()]
        if not text:
            return "--version printed nothing"
        # The core sensor names the target it was built for; a mismatch means a mix-up in dist/.
        if binary == SENSOR_NAME and arch.rust_target not in text[0]:
            return f"--version names {text[0]!r}, expected the target {arch.rust_target}"
        return None

    return check


def _check_events(lines: list[str], arch: Architecture) -> str | None:
    text = [ln for ln in lines if ln.strip()]
    if len(text) != SENSOR_COUNT:
        return f"expected {SENSOR_COUNT} JSON event lines, got {len(text)}"
    for i, line in enumerate(text, 1):
        try:
            event = json.loads(line)
        except ValueError:
            return f"event line {i} is not JSON: {line!r}"
        if not isinstance(event, dict):
            return f"event line {i} is not a JSON object: {line!r}"
        if event.get("seq") != i:
            return f"event line {i} has seq {event.get('seq')!r}, expected {i}"
    return None


def _not_run(arch: Architecture, art: Artifact, problem: str, out: TextIO) -> SmokeRun:
    _say(out, f"[{arch.name}] {art.binary}: FAILED before running: {problem}")
    return SmokeRun(
        arch=arch.name,
        binary=art.binary,
        image="",
        platform=arch.docker_platform,
        args=(),
        exit_code=None,
        started=False,
        output=(),
        problem=problem,
        seconds=0.0,
    )


def _inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` when it resolves inside ``root`` (the manifest may have been edited), else None."""
    p = (root / rel).resolve()
    return p if p.is_relative_to(root.resolve()) else None


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


__all__ = ["SmokeReport", "SmokeRun", "SmokeSkip", "run_smoke"]
