"""Identifier generation: time-ordered UUIDs (version 7 layout) as strings.

Time-ordered ids keep new rows at the right edge of every B-tree index, which makes bulk
inserts cheap, and they sort roughly by creation time, which keyset pagination shows.
"""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A fresh UUIDv7 string such as ``'0192f1c4-7a3b-7c21-9d4e-3b1f0a2c5d6e'``."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= (rand >> 68) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & (2**62 - 1)
    return str(uuid.UUID(int=value))
