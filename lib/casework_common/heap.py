"""The garbage collector of a long-running service process.

A process that has wired itself holds tens of thousands of objects that live as long as
it does (modules, classes, generated messages, its wiring). Python's full collection
walks every one of them each time, a pause of 20 to 40 ms measured in a clients process
(about one in two hundred searches), which lands on whichever call is running and makes
most of a call's p99. Frozen once the process is wired, they are left out of every
collection; what calls allocate is collected as before.
"""

from __future__ import annotations

import gc


def freeze_wired_objects() -> int:
    """Collect once, then exempt every object alive now from later collections (call it
    when the process is wired, before it serves); answers how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
