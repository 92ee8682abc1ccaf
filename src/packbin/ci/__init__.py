"""What CI jobs need around a build, each a small flow of its own:

- collect-pack-binaries: ``trees`` (the downloaded per-architecture trees, found, checked and
  staged) -> ``collect`` (merged, installed, reported);
- the build caches as files a CI cache action keeps: ``cache_transfer`` (the key, export and
  import through the engine) with ``cache_index`` (packbin-cache.json, written last, checked
  first) and ``cache_tar`` (each tar checked member by member before an engine sees it).
"""
