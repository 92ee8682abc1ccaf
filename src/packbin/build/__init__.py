"""build-pack-binaries, step by step: the modules in the order the data flows through them.

- ``deploy_arch``: which architecture's binaries go into packs/ when none is named (asks the
  engine's native platform only when it must);
- ``request``: the task's flags, parsed and checked once (``BuildRequest``);
- ``plan``: (config, architectures, binaries, input digests, old manifest) -> frozen build steps;
  pure, no engine;
- ``recipe``: the builder image's Dockerfile and its hash (the image tag), the build script;
- ``image``: the builder image on the engine: found by tag, or built through the Engine API;
- ``sources``: the checkout's build inputs into a named volume, incrementally;
- ``fetch``: registry and git dependencies into the shared cargo home (the one networked step);
- ``c_sysroot``: each ``[[c_libraries]]`` library built static for each target into a volume,
  once per engine (fetch with network, compile without);
- ``job``: what one build container gets (volumes, environment, command, payload); pure;
- ``container``: one build container per architecture: no network, sources read-only, the log
  streamed out (``script_log`` reads its markers, ``log`` its lock waits and missing files), the
  artifacts out as a tar stream;
- ``extract``: that tar stream into a staging directory, refusing anything odd;
- ``metadata`` and ``deps``: the binary's dependency list from the `cargo metadata` the build
  ran (cargo-auditable's format 1, embedded as ``.dep-v0``); pure;
- verification: :mod:`packbin.elf` (static, the right machine) before anything is installed;
- ``sbom`` and ``provenance``: each binary's CycloneDX SBOM and the run's in-toto/SLSA
  statement, as bytes; pure;
- ``install``: verified artifacts into dist/ and the pack tree, atomically; the manifest
  (:mod:`packbin.dist.manifest`) last;
- ``report``: the build report: the table, the --json document, the dry run's plan, the GitHub
  step summary (``packbin.deploy.report`` is init-packs' own);

``pipeline`` runs them in that order; ``lanes`` runs the engine steps (image, sources, fetch,
containers) on each engine at once, with the run's shared state in one frozen ``RunContext``;
``repro`` (``--check-reproducible``) runs the plan again in fresh cache volumes (``volumes``) and
compares the bytes. ``resources/`` holds the files that run inside the build container
(``build.sh``, ``zig_cache.py``, ``c_sysroot.sh``).
"""
