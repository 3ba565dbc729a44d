"""Sphinx configuration of the otmodel documentation site.

Built by ``make docs`` (``python docs/build.py``): Sphinx with sphinx-gallery (tutorials and the example
gallery are executed at build time, so they cannot rot), numpydoc for the API reference, MyST for the
Markdown pages, and MathJax served from the site itself (no CDN: ``docs/build.py`` fetches the official
``mathjax`` package from the npm registry into ``_build/mathjax`` before the build).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import otmodel  # noqa: E402

project = "otmodel"
author = "otmodel developers"
copyright = "2026, otmodel developers"
release = version = otmodel.__version__ if hasattr(otmodel, "__version__") else "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "check_site.py", "build.py", "_ext", "tutorials"]
# sphinx-gallery's configuration holds functions: it cannot be cached, which is harmless
suppress_warnings = ["config.cache"]
root_doc = "index"

# inline math in docstrings is written between single backticks (readable in help() as it is)
default_role = "math"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autosummary_generate = True
# a class page documents the class's own members: the default template also listed what a class
# inherits, e.g. every str method of the string enums Status and PointStatus (and failed on them)
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# MathJax from this site, not from a CDN (the build script copies it here)
MATHJAX_DIR = Path(os.environ.get("OTMODEL_MATHJAX_DIR", HERE / "_build" / "mathjax"))
html_static_path = [str(MATHJAX_DIR.parent / "mathjax_static")] if (MATHJAX_DIR.parent / "mathjax_static").exists() else []
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "furo"
html_title = "otmodel"
html_show_sourcelink = False

from otmodel_docs import example_argv, png_scraper, prime_seen  # noqa: E402

prime_seen(ROOT, ROOT / "examples", HERE / "tutorials")

sphinx_gallery_conf = {
    "examples_dirs": ["tutorials", str(ROOT / "examples")],
    "gallery_dirs": ["auto_tutorials", "auto_examples"],
    # every script is executed: a failing tutorial or example fails the build
    "filename_pattern": os.environ.get("OTMODEL_DOCS_EXECUTE", r".*\.py$"),
    "ignore_pattern": r"__init__\.py",
    "image_scrapers": ("matplotlib", png_scraper),
    "reset_argv": example_argv,
    "capture_repr": ("_repr_html_", "__repr__"),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
    # the execution-time tables load jQuery and DataTables from CDNs: the site must work offline
    "write_computation_times": False,
}


def setup(app: object) -> None:
    # the layer picture of the design page, drawn from the imports of the source being documented
    from layers import FIGURE, draw

    draw(FIGURE)
    # MathJax on every page: the formulations in the tutorials come as HTML output of the scripts
    # (Formulation._repr_html_), which Sphinx does not count as math when it decides where to load it
    app.set_html_assets_policy("always")  # type: ignore[attr-defined]
