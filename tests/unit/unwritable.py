"""Paths nobody may write to, root included, for the stores' "unwritable path" tests.

``chmod 0o555`` does not stop root (CAP_DAC_OVERRIDE), and CI runs the tests as root, so a test
built on permission bits would have to skip exactly where it matters.  Linux's ``/proc/sys`` is
refused to every user by the kernel itself: its directories are r-x for root too (no file can be
created in them, whatever the mount options), and a sysctl file of mode 0444 such as
``/proc/sys/kernel/osrelease`` is read-only for root as well.  ``os.access`` reports both, which is
what the stores' opening checks ask.  Elsewhere (no ``/proc/sys``) permission bits are the only
means, and those work for an unprivileged user.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_PROC_SYS = Path("/proc/sys")
_READ_ONLY_SYSCTL = _PROC_SYS / "kernel" / "osrelease"


@contextlib.contextmanager
def unwritable_directory(tmp_path: Path) -> Iterator[Path]:
    """A directory in which no file can be created by this process, even as root."""
    if _PROC_SYS.is_dir():
        directory = _PROC_SYS
        assert not os.access(directory, os.W_OK), f"{directory} is writable: the test would prove nothing"
        yield directory
        return
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        assert not os.access(directory, os.W_OK), f"{directory} is writable: the test would prove nothing"
        yield directory
    finally:
        directory.chmod(0o755)


@contextlib.contextmanager
def unwritable_file(path: Path) -> Iterator[Path]:
    """``path`` made an existing regular file this process may read but not write, even as root:
    a symlink to a read-only sysctl (or, without ``/proc/sys``, the file itself made 0444)."""
    if _READ_ONLY_SYSCTL.is_file():
        path.unlink(missing_ok=True)
        path.symlink_to(_READ_ONLY_SYSCTL)
        assert path.is_file() and os.access(path, os.R_OK)
        assert not os.access(path, os.W_OK), f"{path} is writable: the test would prove nothing"
        yield path
        return
    if not path.exists():
        path.touch()
    path.chmod(0o444)
    try:
        assert not os.access(path, os.W_OK), f"{path} is writable: the test would prove nothing"
        yield path
    finally:
        path.chmod(0o644)
