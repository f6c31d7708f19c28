"""The memory guard: one rule for every call that would allocate a large array.

A call that can allocate a large share of the machine's memory (the loaders' stacked images,
the Monte Carlo samples of `predict_uncertainty`) estimates the bytes first and raises a
`ValueError` above `MEMORY_SHARE` of the physical memory, instead of being killed by the
operating system's out-of-memory killer without a message. `allow_large=True` goes on.
"""

import os

from keras_drifa import _checks

# The share of physical memory one array may take before a call refuses to allocate it.
MEMORY_SHARE = 0.5


def physical_memory():
    """The machine's physical memory in bytes, or `None` where it cannot be read."""
    try:
        import psutil
    except ImportError:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, OSError, ValueError):
            return None
    return int(psutil.virtual_memory().total)


def check_allocation(where, what, num_bytes, allow_large, advice):
    """Raises a `ValueError` when `num_bytes` exceed `MEMORY_SHARE` of the machine's memory
    and `allow_large` is false.

    Args:
        where: the public function, for the message.
        what: what would be allocated, e.g. "12000 images of 20000x20000x3 float32".
        num_bytes: the estimate.
        allow_large: the caller's `allow_large` argument (checked here).
        advice: how to need less, e.g. "pass a smaller image_size".
    """
    if _checks.boolean(where, "allow_large", allow_large):
        return
    total = physical_memory()
    if total is None or num_bytes <= MEMORY_SHARE * total:
        return
    raise ValueError(
        f"{where}: {what} would take {_gib(num_bytes)}, more than {MEMORY_SHARE:.0%} of this "
        f"machine's {_gib(total)} of memory; {advice}, or pass allow_large=True to allocate "
        "it anyway."
    )


def _gib(num_bytes):
    return f"{num_bytes / 2**30:,.1f} GiB"
