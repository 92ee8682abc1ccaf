"""Sphinx configuration of packbin's documentation (Markdown pages read by MyST).

Built strict, as .ci/run and tests/unit/test_docs.py do:
``python3 -m sphinx -W --keep-going -n -b html docs /tmp/packbin-docs-html``.
"""

from __future__ import annotations

project = "packbin"
author = "packbin contributors"
copyright = "packbin contributors, Apache-2.0"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Links to headings of other pages (`building.md#sources-volume`) resolve, and fail the strict build
# when the heading is gone.
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]

# Shell examples unless a block names its language.
highlight_language = "sh"

html_theme = "alabaster"
html_title = "packbin"
html_theme_options = {"description": "Static musl pack binaries for every architecture", "fixed_sidebar": True}
