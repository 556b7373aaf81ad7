"""Bulk reads without the cyclic garbage collector.

Assumptions: a bulk read (every live CI, a history range, an as-of replay) creates hundreds of
thousands of small, acyclic objects (parsed JSON documents, models) that all survive; on CPython
3.11 each allocation burst then triggers collections that walk every surviving object again,
which made parsing 240k history documents 4x slower (11 s instead of 2.9 s) in
``bench/bench_audit.py``. Reference counting still frees everything; the collector is turned off
only for the duration of the block, and back on (if it was on) afterwards, even on error.

>>> import gc
>>> with no_gc():
...     gc.isenabled()
False
>>> gc.isenabled()
True
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["no_gc"]


@contextmanager
def no_gc() -> Iterator[None]:
    """Turn the cyclic garbage collector off for the block (nested blocks are fine)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
