"""Linux's `prctl(2)`, for the few attributes the platform sets on its own processes.

Called through ctypes: the standard library has no binding. Elsewhere (macOS) there is no
`prctl`; callers check `ON_LINUX` and document what they do without it. (`supervisor.py` keeps a
copy of this function: it runs by path with `-I -S` and imports nothing of the platform.)
"""

from __future__ import annotations

import ctypes
import functools
import sys

ON_LINUX = sys.platform.startswith("linux")

# <linux/prctl.h>
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    """Set one attribute of the calling process; an OSError when the kernel refuses."""
    if _libc().prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
