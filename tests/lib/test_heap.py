"""A wired process's objects are left out of garbage collection; what it allocates
afterwards is still collected."""

from __future__ import annotations

import gc
import subprocess
import sys

PROBE = """
import gc, weakref
from casework_common.heap import freeze_wired_objects

class Wiring:
    pass

wiring = [Wiring() for _ in range(1000)]
frozen = freeze_wired_objects()
assert frozen >= 1000, frozen
assert gc.get_count()[2] == 0 and len(gc.get_objects(2)) < 100, len(gc.get_objects(2))

class Call:
    pass

garbage = Call()
garbage.cycle = garbage
gone = weakref.ref(garbage)
del garbage
gc.collect()
assert gone() is None
print("ok")
"""


def test_a_wired_process_freezes_its_objects_and_still_collects_a_calls_garbage() -> None:
    # In a process of its own: freezing is for the rest of a process's life.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr
    assert gc.get_freeze_count() == 0  # this test process is left as it was
