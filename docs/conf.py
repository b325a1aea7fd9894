"""Sphinx configuration of ecrm's documentation site.

Build it with ``sphinx-build -W --keep-going -b html docs docs/_build/html``; the test
suite runs the same build (tests/test_docs_site.py), so a warning fails CI.
"""

import ecrm

project = "ecrm"
author = "ecrm developers"
copyright = "ecrm developers"
release = ecrm.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

# The pages link to each other's headings (``orders.md#the-order-record``), as GitHub
# renders them; MyST makes the same anchors for headings down to this level.
myst_heading_anchors = 4

autodoc_member_order = "bysource"
# Sphinx 9 lets this default override a directive's own ``:members: a, b`` list, so pages
# that want only some members name each in a directive of its own.
autodoc_default_options = {"members": True}

html_theme = "furo"
html_title = f"ecrm {release}"
