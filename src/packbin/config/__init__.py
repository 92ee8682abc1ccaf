"""buildcfg.toml, read into frozen dataclasses; nothing here starts a container.

- ``table``: the file's bytes (bounded, a regular file) and its tables, checked key by key;
- ``presets``: the architectures packbin knows from the Rust triple alone;
- ``engines``: which engine builds an architecture;
- ``apt_sources``: the Debian mirror this host's apt uses (``mirror = "auto"``);
- ``architectures``: ``[architectures.NAME]`` and ``all_arches`` -> architectures;
- ``builder``: ``[builder]`` -> ``BuilderConfig``;
- ``binaries``: ``[[binaries]]`` -> ``PackBinary`` (and ``PACKLESS_DIR``, which no pack may be called);
- ``c_libraries``: ``[[c_libraries]]`` -> ``CLibrary`` (the C libraries built into each target's sysroot);
- ``model``: the config itself (``BuildConfig`` and its parts), loaded and validated.

Which architecture is deployed when none is named needs the engine: ``packbin.build.deploy_arch``.
"""
