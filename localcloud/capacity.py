"""Compute capacity: how many jobs train or transform at once on this machine.

On AWS every job gets instances of its own; here they share the host's cores. A class
that starts 200 jobs at once would otherwise run 200 XGBoost threads side by side, each
also holding the GIL for its per-round callbacks, and the HTTP threads answering the
portal would wait behind them. A job waits for a slot while its status still reads
Starting ("Launching requested ML instances"), as an AWS job does while capacity is
found; a stop request or MaxRuntimeInSeconds ends the wait.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

WAIT_STEP_SECONDS = 0.05
# Niceness of a computing job's thread (and the XGBoost threads it starts): on AWS a job
# runs on instances of its own, so its work must not slow the API that answers the portal.
COMPUTE_NICENESS = 10


class Capacity:
    def __init__(self, slots: int) -> None:
        self._free = threading.BoundedSemaphore(max(1, slots))

    @contextlib.contextmanager
    def slot(self, while_waiting: Callable[[], None]) -> Iterator[None]:
        """Hold a slot for the block; ``while_waiting`` runs between tries and may raise
        to give up (a stop request)."""
        while not self._free.acquire(timeout=WAIT_STEP_SECONDS):
            while_waiting()
        try:
            _lower_this_threads_priority()
            yield
        finally:
            self._free.release()


def _lower_this_threads_priority() -> None:
    """Linux gives each thread its own nice value, inherited by the threads it starts;
    elsewhere the call would renice the whole process, so it is skipped."""
    if sys.platform != "linux":
        return
    # Where it is not permitted the job still runs, only at normal priority.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COMPUTE_NICENESS)
