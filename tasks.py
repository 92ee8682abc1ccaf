"""packbin's tasks for `invoke` in this repository (the `packbin` command offers the same).

`invoke --list` shows them; `invoke TASK --help` shows each flag. The tasks live in the
package (src/packbin/cli/tasks/) so that the installed `packbin` command and this file agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from packbin.tasks import ns
except ImportError:  # a checkout without `pip install -e .`: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from packbin.tasks import ns

__all__ = ["ns"]
