"""Getting built binaries into running containers: pack trees and Compose volumes.

- ``volume``: init-packs into a Docker named volume (the deploy rules of :mod:`packbin.deploy`);
- ``init_packs``: the init-packs task: its request (``InitPacksRequest``), a directory or a volume,
  the report, the exit code;
- ``init_image``: the Compose init image and runtime image per architecture;
- ``smoke``: run every built binary in an empty image on the engine.
"""
