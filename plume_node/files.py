"""Small file helpers the node's keys and configs share: private and atomic writes,
and the check that a private file is still private."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to a new file readable only by its owner (0600), durably.

    The file is created with mode 0600 from the start (never world-readable,
    not even for a moment) and fsynced before returning.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file."""
    # A fresh, unpredictable name in the same directory (O_EXCL, never a symlink someone
    # planted at a fixed "NAME.tmp"), then renamed over `path`.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def unsafe_permissions(path: Path) -> str | None:
    """Why `path` may not hold a secret (group or others can read or write it), else None.

    The rule of ssh for private keys: a key that others can read may already
    be copied, and one that others can write may have been replaced, so it is
    refused rather than used. The message says how to fix it.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 == 0:
        return None
    return (
        f"permissions {mode:04o} for {path} are too open: a private key file must be readable and "
        f"writable by its owner only; run `chmod 600 {path}` (and check nobody copied it)"
    )
