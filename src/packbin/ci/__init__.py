"""What CI jobs need around a build: ``collect`` (merge per-architecture dist trees) and
``cache_transfer`` with ``cache_tar`` (packbin's caches as files a CI cache action keeps)."""
