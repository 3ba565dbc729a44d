"""Build the documentation site: ``python docs/build.py [--check]`` (``make docs`` / ``make docs-check``).

1. MathJax is served by the site itself, never from a CDN: the official ``mathjax`` package (version 3)
   is fetched once from the npm registry into ``docs/_build/npm`` and its ``es5`` bundle copied to the
   site's static files.
2. ``sphinx-build -W --keep-going``: any warning (a broken reference, a docstring Sphinx cannot read,
   a tutorial or example that raises) fails the build. Tutorials and examples are executed.
3. With ``--check``, ``docs/check_site.py`` opens the built site in headless Chromium and checks that
   math rendered, gallery images load and internal links resolve.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BUILD = DOCS / "_build"
MATHJAX_VERSION = "3.2.2"


def fetch_mathjax() -> Path:
    """The es5 bundle of MathJax under ``_build/mathjax_static/mathjax`` (fetched with npm once)."""
    target = BUILD / "mathjax_static" / "mathjax"
    if (target / "tex-chtml.js").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("docs: npm is needed once to fetch MathJax (the site serves it offline); install Node.js/npm")
    prefix = BUILD / "npm"
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix),
                    f"mathjax@{MATHJAX_VERSION}"], check=True)
    es5 = prefix / "node_modules" / "mathjax" / "es5"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(es5, target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="also run the browser check (docs/check_site.py)")
    ap.add_argument("--clean", action="store_true", help="remove the previous build (keeps the MathJax copy)")
    args = ap.parse_args(argv)
    if args.clean:
        for sub in ("html", "doctrees"):
            shutil.rmtree(BUILD / sub, ignore_errors=True)
        for gen in ("auto_examples", "auto_tutorials", "generated"):
            shutil.rmtree(DOCS / gen, ignore_errors=True)
    fetch_mathjax()
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(BUILD / "doctrees"),
           str(DOCS), str(BUILD / "html")]
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    print(f"docs: sphinx-build finished in {time.perf_counter() - t0:.0f} s with exit code {rc}")
    if rc != 0:
        return rc
    if args.check:
        return subprocess.run([sys.executable, str(DOCS / "check_site.py")], cwd=ROOT).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
