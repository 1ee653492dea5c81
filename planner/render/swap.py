"""Put a fully written directory in place of another one so that a kill at any moment leaves either the old or
the new directory at the target, never neither (issue 9, point 3).

On Linux, ``renameat2(RENAME_EXCHANGE)`` swaps the two names in one atomic step (glibc 2.28+; ext4, xfs, btrfs,
tmpfs and overlayfs support it); the old contents then sit in the staging directory and are deleted afterwards.
Fallback, where the call or the file system does not offer it (other systems, some network file systems): two
renames, target -> a hidden sibling ``.NAME.old.*``, then staging -> target. A failure of the second rename moves
the old directory back; only a kill between the two renames leaves the target missing, with the old bundle kept
whole in ``.NAME.old.*`` next to it (docs/bundle.md says so).
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2
# errnos meaning "this system or file system has no RENAME_EXCHANGE": take the two-rename fallback
UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def _renameat2():
    """libc's renameat2, or None when this libc has none (not Linux, or glibc older than 2.28)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load (unusual platforms)
        return None
    func = getattr(libc, "renameat2", None)
    if func is not None:
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
    return func


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap the names ``a`` and ``b`` (both must exist). False when the system cannot do it, so the
    caller falls back; any other failure raises OSError."""
    func = _renameat2()
    if func is None:
        return False
    if func(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def replace_dir(stage: Path, target: Path) -> None:
    """Move the directory ``stage`` to ``target``, replacing an existing ``target`` (see the module docstring)."""
    if not target.exists():
        stage.rename(target)
        return
    if exchange(stage, target):
        shutil.rmtree(stage, ignore_errors=True)      # now the old contents
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        stage.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
