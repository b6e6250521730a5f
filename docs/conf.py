"""Sphinx configuration of the platform's documentation (``make html`` in this folder).

The pages are Markdown (MyST). Text that lives elsewhere in the repository is included, not
copied: sections of README.md, the formulas' pillar.example and defaults.yaml, and the
notes in this folder (data-model.md, control-plane.md, service-discovery.md). The diagrams
are Graphviz sources in diagrams/, drawn by ``dot`` at build time as SVG: no JavaScript and
no download when the pages are read.
"""

project = "Salt platform"
author = "the platform team"
copyright = "the platform team"

extensions = ["myst_parser", "sphinx.ext.graphviz"]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Anchors for the headings of levels 1-3, so that pages link to sections of others
# (``[text](control-plane.md#one-member-at-a-time)``).
myst_heading_anchors = 3

graphviz_output_format = "svg"
graphviz_dot_args = ["-Gfontname=Helvetica", "-Nfontname=Helvetica", "-Efontname=Helvetica"]

html_theme = "alabaster"
html_title = "Salt platform"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px"}
# Pages show no "view source" link to the Markdown copy of themselves.
html_show_sourcelink = False
