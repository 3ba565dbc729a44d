"""The picture of otmodel's layers, drawn at build time from the imports of the source itself.

The layer table and the import reader are those of ``tests/test_architecture.py`` (the test that
fails on an upward import), so the figure shows exactly what the test enforces: one box per layer,
bottom to top, with the modules it holds, and one arrow per pair of layers that import each other,
labelled with the number of imports. An upward import would be drawn in red.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _architecture() -> Any:
    spec = importlib.util.spec_from_file_location("_otmodel_architecture", ROOT / "tests" / "test_architecture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draw(path: Path) -> Path:
    """Write the layer figure to ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    arch = _architecture()
    modules, edges = arch._graph()
    names = [name for name, _ in arch.LAYERS]
    members: dict[int, list[str]] = {i: [] for i in range(len(names))}
    for module in modules:
        members[arch._layer(module)].append(module)
    between: Counter[tuple[int, int]] = Counter()
    for a, b, in_function in edges:
        if arch._allowed(a, b, in_function):
            continue
        la, lb = arch._layer(a), arch._layer(b)
        if la != lb:
            between[(la, lb)] += 1

    import textwrap

    import numpy as np

    n = len(names)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 7.2), gridspec_kw={"width_ratios": [1.45, 1]})
    height, gap, width = 0.8, 0.25, 10.0
    for i, name in enumerate(names):
        y = i * (height + gap)
        left.add_patch(
            FancyBboxPatch((0, y), width, height, boxstyle="round,pad=0.02", fc="#eef3fb", ec="#3b5b92", lw=1.1)
        )
        short = sorted(m.removeprefix("otmodel.") if m != "otmodel" else "otmodel (the facade)" for m in members[i])
        lines = textwrap.wrap(", ".join(short) or "(no module yet)", 118)
        if len(lines) > 2:
            lines = lines[:2]
            lines[1] = lines[1][:110] + " ..."
        left.text(0.15, y + height * 0.74, name, fontsize=10.5, weight="bold", va="center")
        left.text(0.15, y + height * 0.33, "\n".join(lines), fontsize=6.4, va="center", color="#333333", linespacing=1.3)
        if i:
            left.annotate("", xy=(width / 2, y - gap + 0.02), xytext=(width / 2, y - 0.02),
                          arrowprops={"arrowstyle": "->", "color": "#5d6d7e", "lw": 1.0})
    left.set_xlim(-0.2, width + 0.2)
    left.set_ylim(-0.2, n * (height + gap))
    left.axis("off")
    left.set_title("layers, bottom to top: a module may import its own layer and those below", fontsize=10)

    counts = np.zeros((n, n))
    for (a, b), c in between.items():
        counts[a, b] = c
    allowed = np.tril(np.ones((n, n)), -1)
    rgb = np.ones((n, n, 3))
    rgb[allowed > 0] = (0.85, 0.94, 0.85)  # allowed: a layer importing a lower one
    rgb[np.eye(n, dtype=bool)] = (0.93, 0.93, 0.93)
    rgb[(counts > 0) & (allowed == 0) & ~np.eye(n, dtype=bool)] = (0.80, 0.18, 0.16)  # upward: a violation
    right.imshow(rgb, origin="lower")
    for a in range(n):
        for b in range(n):
            if a == b:
                right.text(b, a, "-", ha="center", va="center", fontsize=8, color="#999999")
            elif counts[a, b]:
                right.text(b, a, f"{int(counts[a, b])}", ha="center", va="center", fontsize=8,
                           color="white" if b > a else "black", weight="bold" if b > a else "normal")
    right.set_xticks(range(n), names, rotation=60, ha="right", fontsize=8)
    right.set_yticks(range(n), names, fontsize=8)
    right.set_xlabel("imported layer")
    right.set_ylabel("importing layer")
    up = int(sum(c for (a, b), c in between.items() if b > a))
    right.set_title(
        "imports between layers (number of import statements)\n"
        f"green: allowed; white: forbidden; red: upward ({up} now)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


#: Where the build writes the figure (``docs/generated`` is not tracked; the design page shows it).
FIGURE = ROOT / "docs" / "generated" / "layers.png"

if __name__ == "__main__":
    print(draw(FIGURE))
