"""Files that run inside the build container, sent there as they are (not imported by packbin):
``build.sh`` (the build itself, printing the ``::packbin-*`` lines :mod:`packbin.build.log` reads)
and ``zig_cache.py`` (zig's cache re-pointed at this engine's files, run by ``build.sh`` first).
"""
