"""Small helpers every step uses: atomic writes, file digests, locks, bounded streams, tar
members, size formatting and packbin's own cache directories. None imports another packbin module
except :mod:`packbin.errors`."""
