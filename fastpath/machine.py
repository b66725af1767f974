"""What of the machine this process may use: the readers and the partitioner run a
pipeline of threads when there is a second core to run them, and one thread otherwise."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (taskset / cgroup affinity), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):       # not on Linux
        return os.cpu_count() or 1
