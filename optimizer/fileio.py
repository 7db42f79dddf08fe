"""Atomic writes, by the name they have always been imported by: they live in
``optimizer.io.files``; ``did_you_mean`` and ``jsonable`` in ``optimizer.formatting``."""

from __future__ import annotations

from optimizer.formatting import did_you_mean, jsonable
from optimizer.io.files import atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text", "did_you_mean", "jsonable"]
