"""Host properties the sandbox relies on, checked once when a worker starts."""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

X32_SYSCALL_BIT = 0x40000000
X32_GETPID = X32_SYSCALL_BIT | 39


def x32_syscalls_enabled() -> bool:
    """kafel kills foreign architectures (i386 int 0x80) but matches syscalls by their x86-64
    number: on a kernel with the x32 ABI, `unshare | 0x40000000` would slip past the policy.
    Probing with x32 getpid is harmless either way (ENOSYS here)."""
    if platform.machine() != "x86_64":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    result: int = libc.syscall(ctypes.c_long(X32_GETPID))
    return result != -1
