"""Check the built documentation site in a real browser (headless Chromium through Selenium).

``python docs/check_site.py [--html docs/_build/html]`` (run by ``make docs-check`` and CI) fails when:

* a formula did not render: pages whose source has math must contain MathJax output, no ``merror``
  element, and no raw TeX delimiters left in the visible text;
* the browser console logs an error (a missing script, a MathJax failure);
* an image of the tutorials or the gallery does not load (``naturalWidth == 0``);
* an internal link (``href`` to a page or anchor of the site) points nowhere.

It writes screenshots of three pages to ``docs/_build/screenshots/`` to look at.

Chromium comes from Debian's ``chromium`` and ``chromium-driver`` packages (``apt-get install chromium
chromium-driver``); the driver is found on PATH or at /usr/bin/chromedriver.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag

DOCS = Path(__file__).resolve().parent

#: pages opened in the browser; the first three are also photographed
PAGES = [
    "auto_tutorials/plot_1_flow.html",
    "auto_examples/index.html",
    "explanations/duality-and-certificates.html",
    "auto_tutorials/plot_2_spatial.html",
    "auto_tutorials/plot_4_attraction.html",
    "getting-started.html",
    "generated/otmodel.formulation.formulation.html",
]

RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\mathcal|\\frac|\\sum_")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        if d.get("id"):
            self.ids.add(str(d["id"]))
        if tag == "a" and d.get("href"):
            self.hrefs.append(str(d["href"]))
        if tag in ("img", "script") and d.get("src"):
            self.hrefs.append(str(d["src"]))
        if tag == "link" and d.get("href"):
            self.hrefs.append(str(d["href"]))


def check_links(root: Path) -> list[str]:
    """Every internal href/src of every page resolves to a file (and its #anchor to an id there)."""
    pages: dict[Path, _Links] = {}
    for page in root.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = parser
    problems = []
    for page, parser in pages.items():
        for href in parser.hrefs:
            if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith("//"):
                continue  # external (http:, mailto:, data:) -- the site must not need them, see below
            url, frag = urldefrag(href)
            url = url.split("?", 1)[0]  # cache-busting queries (?v=...) are not part of the file name
            target = page if not url else (page.parent / unquote(url)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(root)}: link to missing {href}")
                continue
            if frag and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if frag not in ids:
                    problems.append(f"{page.relative_to(root)}: anchor #{frag} not found in {target.relative_to(root)}")
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"<script[^>]+src=\"(https?:)?//[^\"]+\"", text):
            problems.append(f"{page.relative_to(root)}: loads a script from the web: {m.group(0)}")
    return problems


def _driver() -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files", "--window-size=1280,1600"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def check_in_browser(root: Path, shots: Path) -> list[str]:
    problems: list[str] = []
    driver = _driver()
    shots.mkdir(parents=True, exist_ok=True)
    try:
        for n, rel in enumerate(PAGES):
            page = root / rel
            if not page.exists():
                problems.append(f"{rel}: page missing")
                continue
            driver.get(page.as_uri())  # type: ignore[attr-defined]
            has_math = "math notranslate" in page.read_text(encoding="utf-8")
            deadline = time.time() + 30
            state = None
            while time.time() < deadline:
                state = driver.execute_script(  # type: ignore[attr-defined]
                    "const mj = window.MathJax; const imgs = Array.from(document.images);"
                    "return {ready: document.readyState, mj: !!(mj && mj.startup && mj.startup.document),"
                    " typeset: document.querySelectorAll('mjx-container').length,"
                    " pending: document.querySelectorAll('.math:not(:has(mjx-container))').length,"
                    " errors: document.querySelectorAll('mjx-merror, merror').length,"
                    " images: imgs.length, broken: imgs.filter(i => i.complete && i.naturalWidth === 0).map(i => i.src),"
                    " loading: imgs.filter(i => !i.complete).length};"
                )
                if state["ready"] == "complete" and state["loading"] == 0 and (not has_math or state["pending"] == 0):
                    break
                time.sleep(0.25)
            assert state is not None
            if has_math and state["typeset"] == 0:
                problems.append(f"{rel}: has math but MathJax typeset nothing")
            if has_math and state["pending"]:
                problems.append(f"{rel}: {state['pending']} formulas left untypeset")
            if state["errors"]:
                problems.append(f"{rel}: {state['errors']} formulas failed to render (merror)")
            for src in state["broken"]:
                problems.append(f"{rel}: image does not load: {src}")
            visible = driver.execute_script(  # type: ignore[attr-defined]
                "const c = document.querySelector('article') || document.body;"
                "const clone = c.cloneNode(true);"
                "clone.querySelectorAll('pre, code, .highlight, mjx-container, script, style').forEach(e => e.remove());"
                "return clone.innerText;"
            )
            raw = RAW_TEX.findall(visible)
            if raw:
                problems.append(f"{rel}: raw TeX left in the page text: {sorted(set(raw))}")
            for entry in driver.get_log("browser"):  # type: ignore[attr-defined]
                if entry.get("level") == "SEVERE":
                    problems.append(f"{rel}: console error: {entry.get('message')}")
            if n < 3:
                driver.save_screenshot(str(shots / (rel.replace("/", "_").replace(".html", "") + ".png")))  # type: ignore[attr-defined]
            print(f"docs check: {rel}: {state['typeset']} formulas typeset, {state['images']} images")
    finally:
        driver.quit()  # type: ignore[attr-defined]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", default=str(DOCS / "_build" / "html"))
    ap.add_argument("--shots", default=str(DOCS / "_build" / "screenshots"))
    args = ap.parse_args(argv)
    root = Path(args.html).resolve()
    if not (root / "index.html").exists():
        print(f"docs check: no built site at {root} (run make docs)", file=sys.stderr)
        return 2
    problems = check_links(root)
    print(f"docs check: {sum(1 for _ in root.rglob('*.html'))} pages, internal links "
          f"{'all resolve' if not problems else f'{len(problems)} problems'}")
    problems += check_in_browser(root, Path(args.shots))
    for p in problems:
        print(f"docs check: FAIL {p}", file=sys.stderr)
    print(f"docs check: {'passed' if not problems else f'{len(problems)} problems'}; screenshots in {args.shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
