"""The backup command's retention, run by real restic over 14 months of nightly snapshots whose
times are set with `restic backup --time`: what is kept must be exactly the newest snapshot of each
of the last 7 days and of each of the last 12 months (a snapshot that is both counted once),
computed here independently of restic. Also the same with weekly and yearly terms added."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "backup" / "files" / "antone_backup.py"
HOST = "retention-test"
START = dt.datetime(2025, 9, 18, 2, 0)  # 14 months of nights before END, across a year's turn
END = dt.datetime(2026, 11, 25, 2, 0)


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("antone_backup", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["antone_backup"] = module
    spec.loader.exec_module(module)
    return module


ab = load()


def nights() -> list[dt.datetime]:
    """Every night at 02:00 from START to END, and on every tenth day a second, later snapshot (as a
    safety backup before a restore would be), so that "the newest of the day" is really tested."""
    times = []
    day = START
    while day <= END:
        times.append(day)
        if day.toordinal() % 10 == 0:
            times.append(day.replace(hour=14, minute=30))
        day += dt.timedelta(days=1)
    return times


def expected_kept(times: list[dt.datetime], keep: dict[str, int]) -> set[dt.datetime]:
    """restic's policy, written independently: per term, walk from the newest snapshot back and keep
    the newest one of each new bucket until the term's count is used up."""
    bucket_of = {
        "daily": lambda t: t.date(),
        "weekly": lambda t: t.isocalendar()[:2],
        "monthly": lambda t: (t.year, t.month),
        "yearly": lambda t: t.year,
    }
    kept: set[dt.datetime] = set()
    for term, count in keep.items():
        seen: list[object] = []
        for moment in sorted(times, reverse=True):
            bucket = bucket_of[term](moment)
            if bucket not in seen and len(seen) < count:
                seen.append(bucket)
                kept.add(moment)
    return kept


@pytest.fixture(scope="module")
def restic_bin() -> str:
    found = shutil.which("restic")
    if not found:
        pytest.fail("restic is not installed: `make integration` installs it (apt-get install restic)")
    return found


def local_restic(tmp: Path, restic_bin: str) -> object:
    """The command's own Restic wrapper on the repository in tmp/repo."""
    config = ab.parse_config({
        "project": "antone", "host": HOST,
        "postgres": {"service": "postgres", "user": "u", "db": "d", "image": "i"},
        "local_repository": str(tmp / "repo"), "password_file": str(tmp / "pw"),
        "retention": {"daily": 7}, "work_dir": str(tmp / "work"), "status_file": str(tmp / "status.json"),
        "lock_file": str(tmp / "lock"), "restic": restic_bin, "cache_dir": str(tmp / "cache"),
    })
    return ab.Restic(config, config.local)


def make_repository(tmp: Path, restic_bin: str) -> tuple[object, list[dt.datetime]]:
    """A local repository holding one tiny snapshot per entry of nights(), made four at a time."""
    (tmp / "pw").write_text("retention-test")
    (tmp / "data").mkdir()
    (tmp / "data" / "file").write_text("same every night")
    restic = local_restic(tmp, restic_bin)
    assert restic.init() is True
    assert restic.init() is False  # idempotent
    times = nights()

    def backup(moment: dt.datetime) -> None:
        restic("backup", "--host", HOST, "--tag", ab.POSTGRES_TAG, "--time", moment.strftime("%Y-%m-%d %H:%M:%S"),
               str(tmp / "data"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(backup, times))
    return restic, times


def snapshot_times(restic: object) -> set[dt.datetime]:
    return {dt.datetime.fromisoformat(s["time"][:19]) for s in restic.snapshots()}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, restic_bin: str) -> tuple[Path, list[dt.datetime]]:
    os.environ["TZ"] = "UTC"  # restic reads --time and forms its day buckets in local time
    tmp = tmp_path_factory.mktemp("retention")
    restic, times = make_repository(tmp, restic_bin)
    assert len(snapshot_times(restic)) == len(times)
    shutil.copytree(tmp / "repo", tmp / "pristine")
    return tmp, times


def fresh_copy(tmp: Path, restic_bin: str) -> object:
    shutil.rmtree(tmp / "repo")
    shutil.copytree(tmp / "pristine", tmp / "repo")
    return local_restic(tmp, restic_bin)


@pytest.mark.parametrize("keep", [
    {"daily": 7, "monthly": 12},  # the role's default
    {"daily": 3, "weekly": 4, "monthly": 6, "yearly": 2},
], ids=["default", "every-term"])
def test_retention_keeps_exactly_the_policy(repository: tuple[Path, list[dt.datetime]], restic_bin: str,
                                             keep: dict[str, int]) -> None:
    tmp, times = repository
    restic = fresh_copy(tmp, restic_bin)
    ab.apply_retention(restic, keep)
    kept = snapshot_times(restic)
    want = expected_kept(times, keep)
    assert kept == want, (sorted(kept - want), sorted(want - kept))
    if keep == {"daily": 7, "monthly": 12}:
        # The newest 7 nights and one per month for 12 months; November's newest is also today's.
        assert len(want) == 7 + 12 - 1
        assert max(kept) == max(times)
    ab.run([restic_bin, "check"], env=restic.repo.env(), what="restic check")  # type: ignore[attr-defined]


def test_retention_is_stable_on_a_second_run(repository: tuple[Path, list[dt.datetime]], restic_bin: str) -> None:
    tmp, _ = repository
    restic = fresh_copy(tmp, restic_bin)
    ab.apply_retention(restic, {"daily": 7, "monthly": 12})
    first = snapshot_times(restic)
    ab.apply_retention(restic, {"daily": 7, "monthly": 12})
    assert snapshot_times(restic) == first


def test_the_forget_command_names_only_this_host(repository: tuple[Path, list[dt.datetime]], restic_bin: str) -> None:
    """Another host's snapshots in the same repository are never forgotten by this host's policy."""
    tmp, _ = repository
    restic = fresh_copy(tmp, restic_bin)
    subprocess.run([restic_bin, "backup", "--host", "other-host", "--time", "2020-01-01 02:00:00", str(tmp / "data")],
                   env=dict(os.environ, **restic.repo.env()), check=True, capture_output=True)  # type: ignore[attr-defined]
    ab.apply_retention(restic, {"daily": 7, "monthly": 12})
    hosts = [s["hostname"] for s in json.loads(restic("snapshots", "--json"))]  # type: ignore[operator]
    assert hosts.count("other-host") == 1
