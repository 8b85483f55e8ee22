"""What the container may use, from cgroups v2: its CPU quota and its memory limit.

`os.cpu_count()` counts the host's CPUs, not the container's: a pod limited to 2 CPUs on a
64-CPU node would start 64 argon2 threads, each holding the hash's memory, and be
throttled by the kernel or killed for memory. The argon2 pool is sized from these instead.
Only cgroups v2 is read (any current distribution and container runtime); elsewhere, or
with no limit set, the CPUs this process may run on count.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# What argon2 may take of a memory limit; the rest is the service's own (~100-250 MiB).
ARGON2_MEMORY_SHARE = 0.5


def own_cgroup(root: Path = ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP) -> Path:
    """This process's cgroup folder: the root inside a container (its own namespace), the
    unit's folder under systemd (`0::/system.slice/authsvc.service`)."""
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return root
    for line in lines:
        if line.startswith("0::"):
            own = root / line[3:].strip().lstrip("/")
            return own if own.is_dir() else root
    return root


def cpu_quota(folder: Path) -> float | None:
    """CPUs the cgroup may use (`cpu.max`: "quota period" in µs, e.g. "150000 100000" is
    1.5), or None when unlimited ("max") or not readable."""
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        cpus = int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None  # "max", a missing file, or something we do not understand
    return cpus if cpus > 0 else None


def memory_limit(folder: Path) -> int | None:
    """Bytes the cgroup may use (`memory.max`), or None when unlimited or not readable."""
    try:
        limit = int((folder / "memory.max").read_text().strip())
    except (OSError, ValueError):
        return None
    return limit if limit > 0 else None


def available_cpus() -> int:
    """CPUs this process may run on (a cpuset narrows them), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def argon2_threads(
    *,
    memory_kib: int,
    parallelism: int,
    processes: int = 1,
    folder: Path | None = None,
    cpus: int | None = None,
) -> int:
    """How many argon2 hashes one of `processes` server processes may run at once here:
    its share of the CPU quota (rounded up, so a quota of 1.5 is used), each hash taking
    `parallelism` CPUs; no more than its share of ARGON2_MEMORY_SHARE of the memory limit
    holds, each hash holding `memory_kib`."""
    folder = own_cgroup() if folder is None else folder
    usable = cpus if cpus is not None else available_cpus()
    quota = cpu_quota(folder)
    if quota is not None:
        usable = min(usable, math.ceil(quota))
    threads = max(1, math.ceil(usable / processes) // parallelism)
    memory = memory_limit(folder)
    if memory is not None:
        per_process = int(memory * ARGON2_MEMORY_SHARE) // processes
        threads = min(threads, max(1, per_process // (memory_kib * 1024)))
    return threads
