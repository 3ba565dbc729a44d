"""Helpers of the documentation build: a figure scraper for scripts that save their figures, and argv."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

#: The examples write their figures here (relative to the working directory of the build).
OUT = Path("out")

#: Smaller sizes for the slow examples, so the gallery builds in a few minutes (the scripts' defaults
#: are the papers' sizes; the README and benchmarks quote those).
QUICK_ARGV = {
    "synthetic_va.py": ["100"],
    "power_network_vb.py": ["300"],
    "certified_gap_curves.py": ["--n", "100"],
}

_seen: dict[str, float] = {}


def example_argv(sphinx_gallery_conf: Any, script_vars: dict[str, Any]) -> list[str]:
    """Arguments for one gallery script (sphinx-gallery's ``reset_argv``)."""
    os.environ["OTMODEL_DOCS_BUILD"] = "1"
    return QUICK_ARGV.get(Path(script_vars["src_file"]).name, [])


def png_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Collect the PNG files a script wrote under ``out/`` during this block, for the gallery page.

    The examples save their figures with ``savefig`` and close them (they are scripts first), so
    matplotlib's own scraper finds nothing: this one picks up every PNG that is new or rewritten since
    the previous block, copies it to the image path sphinx-gallery expects, and returns the rST.
    """
    from sphinx_gallery.scrapers import figure_rst

    dirs = {(Path.cwd() / OUT).resolve(), (Path(block_vars["src_file"]).parent / OUT).resolve()}
    fresh = []
    for png in sorted(p for d in dirs if d.is_dir() for p in d.rglob("*.png")):
        mtime = png.stat().st_mtime
        if _seen.get(str(png.resolve())) != mtime:
            _seen[str(png.resolve())] = mtime
            fresh.append(png)
    if not fresh:
        return ""
    images = []
    image_path_iterator = block_vars["image_path_iterator"]
    for png in fresh:
        target = next(image_path_iterator)
        shutil.copyfile(png, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


def prime_seen(*roots: Path) -> None:
    """Remember the PNGs already on disk, so that only figures made during the build are shown."""
    for root in roots:
        d = (root / OUT).resolve()
        if d.is_dir():
            for png in d.rglob("*.png"):
                _seen[str(png)] = png.stat().st_mtime
