"""Atomic file writes: a reader, or a rerun after a kill, sees a file's old contents or its new ones, never
part of them (a half-written config.json would make a rerun discard a run it could have resumed); the one
directory swap (a finished experiment, an installed agent set); and the lock that keeps two processes out of one
experiment directory."""
from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """`write(tmp)` writes the new file at `tmp`, in `path`'s directory, which is then renamed onto `path`."""
    tmp = os.path.join(
        os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp"
    )  # umask perms, unlike mkstemp
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


def swap_dir(new: str, dest: str) -> None:
    """Put the complete directory `new` in place of `dest` (if there is one), by renames only: `dest` moves aside
    to `<dest>.old`, `new` onto `dest`, then the old one is removed. Until the first rename `dest` is the old
    directory, after the second the new one; a kill between them leaves the old one at `<dest>.old`."""
    old = dest + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(dest):
        os.replace(dest, old)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def try_lock(path: str) -> int | None:
    """An exclusive lock on the file `path` (created if missing): its descriptor, or None while another
    process holds it. The kernel drops the lock when its holder dies, so a killed run leaves none behind."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed the file as we opened it: lock the new one


def unlock(path: str, fd: int) -> None:
    """Release `try_lock`'s lock and remove its file (removed first, so no one locks a file that is gone)."""
    try:
        os.remove(path)
    finally:
        os.close(fd)
