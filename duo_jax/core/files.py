"""Atomic file writes: a reader, or a rerun after a kill, sees a file's old contents or its new ones, never
part of them (a half-written config.json would make a rerun discard a run it could have resumed)."""
from __future__ import annotations

import os
from typing import Callable


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """`write(tmp)` writes the new file at `tmp`, in `path`'s directory, which is then renamed onto `path`."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")   # umask perms, unlike mkstemp
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: str, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)
