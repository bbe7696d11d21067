"""glibc's allocator set for training on the CPU: a batch's buffers are reused, not mapped and zeroed anew.

PyTorch's CPU allocator is the C library's ``malloc``.  glibc hands out blocks above its *mmap threshold*
as fresh memory maps and unmaps them when freed, so every training step then pays a page fault (and the
kernel's zeroing) for each 4 KiB of its activations and gradients.  glibc moves that threshold on its own
as blocks are freed, so whether a run pays depends on what the process allocated before (see
docs/performance.md: a LeNet epoch took from 0.12 to 1.0 million page faults for the same work).
Pinning the threshold at glibc's largest (32 MiB on 64-bit) and the trim threshold at twice that,
glibc's own rule, keeps batch-sized blocks on the heap for the next step.

A user's own ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` wins: nothing is changed then.
Elsewhere than Linux with glibc nothing is changed either.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_applied = False


def keep_batch_buffers() -> bool:
    """Pin glibc's mmap and trim thresholds for this process (once); whether they are pinned now."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # glibc returns 1 on success; musl's mallopt is a stub that returns 0.
    _applied = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _applied
