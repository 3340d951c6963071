"""Progress bars on a terminal; elsewhere (a log file, a pipe, CI) one plain log line every few seconds."""
from __future__ import annotations

import sys
import time

from absl import logging
from tqdm.auto import tqdm

LOG_EVERY_S = 5.0


class _LogLines:
    """The file tqdm draws into off a terminal: its latest state, logged at most every `every` seconds."""

    def __init__(self, every: float):
        self.every, self.last = every, -float("inf")

    def write(self, text: str) -> None:
        line = text.replace("\n", "\r").split("\r")
        line = next((part.strip() for part in reversed(line) if part.strip()), "")
        now = time.monotonic()
        if line and now - self.last >= self.every:
            self.last = now
            logging.info("%s", line)

    def flush(self) -> None:
        pass


def progress_bar(**kwargs) -> tqdm:
    """`tqdm(**kwargs)` (leave=False) when stderr, where bars and logs go, is a terminal; otherwise the same
    bar written as a log line every LOG_EVERY_S seconds instead of redrawn in place."""
    kwargs.setdefault("leave", False)
    if not sys.stderr.isatty():
        kwargs.update(
            file=_LogLines(LOG_EVERY_S),
            mininterval=LOG_EVERY_S,
            bar_format="{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%) after {elapsed}, {remaining} left{postfix}",
        )
    return tqdm(**kwargs)
