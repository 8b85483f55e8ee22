"""The argon2 pool is sized from the container's cgroup (v2) limits, not the host's CPUs:
parsed here from files laid out as the kernel shows them."""

from __future__ import annotations

from pathlib import Path

from authsvc.accounts.passwords import PasswordHasher
from authsvc.core import cgroups
from tests.conftest import make_settings

MIB = 1024 * 1024


def _cgroup(folder: Path, *, cpu: str | None = None, memory: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if cpu is not None:
        (folder / "cpu.max").write_text(cpu + "\n")
    if memory is not None:
        (folder / "memory.max").write_text(memory + "\n")
    return folder


def test_the_cpu_quota_is_quota_over_period(tmp_path: Path) -> None:
    assert cgroups.cpu_quota(_cgroup(tmp_path / "a", cpu="200000 100000")) == 2.0
    assert cgroups.cpu_quota(_cgroup(tmp_path / "b", cpu="150000 100000")) == 1.5
    assert cgroups.cpu_quota(_cgroup(tmp_path / "c", cpu="max 100000")) is None  # no quota
    assert cgroups.cpu_quota(_cgroup(tmp_path / "d", cpu="nonsense")) is None
    assert cgroups.cpu_quota(_cgroup(tmp_path / "e", cpu="100000 0")) is None
    assert cgroups.cpu_quota(tmp_path / "missing") is None  # cgroups v1, or not Linux


def test_the_memory_limit_is_in_bytes(tmp_path: Path) -> None:
    assert cgroups.memory_limit(_cgroup(tmp_path / "a", memory="536870912")) == 512 * MIB
    assert cgroups.memory_limit(_cgroup(tmp_path / "b", memory="max")) is None
    assert cgroups.memory_limit(tmp_path / "missing") is None


def test_threads_follow_the_quota_rounded_up_not_the_hosts_cpus(tmp_path: Path) -> None:
    def threads(cpu: str, name: str, parallelism: int = 1) -> int:
        folder = _cgroup(tmp_path / name, cpu=cpu)
        return cgroups.argon2_threads(
            memory_kib=65536, parallelism=parallelism, folder=folder, cpus=64
        )

    assert threads("200000 100000", "two") == 2
    assert threads("150000 100000", "one-and-a-half") == 2
    assert threads("50000 100000", "half") == 1
    assert threads("max 100000", "unlimited") == 64  # no quota: the CPUs we may run on
    assert threads("400000 100000", "four-lanes", parallelism=2) == 2  # each hash takes 2


def test_threads_fit_half_the_memory_limit(tmp_path: Path) -> None:
    folder = _cgroup(tmp_path / "small", cpu="800000 100000", memory=str(512 * MIB))
    # 8 CPUs, but 256 MiB for hashes of 64 MiB each: 4 at once.
    assert cgroups.argon2_threads(memory_kib=65536, parallelism=1, folder=folder, cpus=8) == 4
    tiny = _cgroup(tmp_path / "tiny", memory=str(64 * MIB))
    assert cgroups.argon2_threads(memory_kib=65536, parallelism=1, folder=tiny, cpus=8) == 1


def test_worker_processes_share_the_container(tmp_path: Path) -> None:
    folder = _cgroup(tmp_path / "shared", cpu="300000 100000", memory=str(1024 * MIB))

    def threads(processes: int) -> int:
        return cgroups.argon2_threads(
            memory_kib=65536, parallelism=1, processes=processes, folder=folder, cpus=64
        )

    assert [threads(n) for n in (1, 2, 3, 4)] == [3, 2, 1, 1]
    big = _cgroup(tmp_path / "big", cpu="max 100000", memory=str(512 * MIB))
    # 256 MiB for hashes, shared by 2 processes: 2 hashes of 64 MiB each.
    assert (
        cgroups.argon2_threads(memory_kib=65536, parallelism=1, processes=2, folder=big, cpus=8)
        == 2
    )


def test_no_cgroup_falls_back_to_the_cpus_of_this_process(tmp_path: Path) -> None:
    threads = cgroups.argon2_threads(memory_kib=19456, parallelism=1, folder=tmp_path / "none")
    assert threads == cgroups.available_cpus()


def test_the_own_cgroup_is_read_from_proc_self_cgroup(tmp_path: Path) -> None:
    root = _cgroup(tmp_path / "root")
    unit = _cgroup(root / "system.slice" / "authsvc.service")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/system.slice/authsvc.service\n")
    assert cgroups.own_cgroup(root, proc) == unit
    proc.write_text("0::/\n")  # inside a container: its own namespace
    assert cgroups.own_cgroup(root, proc) == root
    proc.write_text("4:memory:/x\n1:cpu:/\n")  # cgroups v1 only
    assert cgroups.own_cgroup(root, proc) == root
    assert cgroups.own_cgroup(root, tmp_path / "no-such-file") == root


def test_the_setting_wins_over_the_cgroup() -> None:
    hasher = PasswordHasher.from_settings(make_settings(argon2_threads=3))
    try:
        assert hasher.threads == 3
    finally:
        hasher.close()
    default = PasswordHasher.from_settings(make_settings(workers=2))
    try:
        expected = cgroups.argon2_threads(memory_kib=19456, parallelism=1, processes=2)
        assert default.threads == expected
    finally:
        default.close()
