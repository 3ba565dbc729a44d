"""Progress of long runs, the way the Python ecosystem reports it: a logger, a bar, or a callback.

Every iterative backend reports through the logger named ``"otmodel"`` (``logging.getLogger("otmodel")``):
configure it like any other (``logging.basicConfig(level=logging.INFO)``) and the runs' progress lines
arrive with the rest of an application's logs. Two options serve users who have configured nothing:

* ``verbose=True`` (ten lines per run) or ``verbose=k`` (a line every ``k`` iterations): the lines are
  logged at INFO; when the ``otmodel`` logger would not show them (no handler, or a level above INFO),
  a handler writing to standard output is attached for the duration of the run and removed after it,
  so nothing is printed twice and the user's logging set-up is left as it was.
* ``progress=True``: a ``tqdm`` bar (when tqdm is installed; otherwise the lines of ``verbose=True``),
  or ``progress=callable``: ``callable(k, total, numbers)`` after every iteration, with ``numbers`` the
  iteration's traced values.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["logger", "Progress", "report_every"]

logger = logging.getLogger("otmodel")


def report_every(verbose: bool | int, max_iter: int) -> int:
    """Iterations between two progress lines: ``True`` gives ten lines per run, ``k`` every ``k``, 0 none."""
    if verbose is True:
        return max(1, max_iter // 10)
    if not verbose:
        return 0
    return max(1, int(verbose))


class Progress:
    """Progress of one run (a context manager): ``line(k, text)`` per iteration, ``done(text)`` at the end."""

    def __init__(
        self,
        verbose: bool | int = False,
        progress: bool | Callable[[int, int, dict[str, Any]], Any] | None = None,
        total: int = 0,
        stream: TextIO | None = None,
        label: str = "otmodel",
    ) -> None:
        self.total = int(total)
        self.callback = progress if callable(progress) else None
        self.bar: Any = None
        if progress is True:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # the bar is optional: fall back to log lines
                verbose = verbose or True
            else:
                self.bar = tqdm(total=self.total, desc=label, leave=False)
        self.every = report_every(verbose, self.total)
        self.stream = stream
        self._handler: logging.Handler | None = None
        self._saved: tuple[int, bool] | None = None

    def __enter__(self) -> Progress:
        shown = logger.isEnabledFor(logging.INFO) and logger.hasHandlers()
        if self.every and (self.stream is not None or not shown):
            # the user asked to see progress and has configured nothing that would show it
            self._handler = logging.StreamHandler(self.stream if self.stream is not None else sys.stdout)
            self._handler.setFormatter(logging.Formatter("%(message)s"))
            self._saved = (logger.level, logger.propagate)
            logger.addHandler(self._handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
        if self._handler is not None:
            logger.removeHandler(self._handler)
            assert self._saved is not None
            logger.setLevel(self._saved[0])
            logger.propagate = self._saved[1]

    def line(self, k: int, text: str | Callable[[], str], numbers: dict[str, Any] | None = None) -> None:
        """Iteration ``k`` is done; ``text`` (or ``text()``, built only when needed) is logged on the
        reporting iterations."""
        if self.every and k % self.every == 0:
            logger.info(text if isinstance(text, str) else text())
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(k, self.total, dict(numbers or {}))

    def done(self, text: str) -> None:
        """The run stopped: one closing line when lines were asked for (DEBUG otherwise)."""
        logger.log(logging.INFO if self.every else logging.DEBUG, text)
