"""The backup benchmark's bookkeeping: the kept points, the simulated growth, ratios and targets."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from bench_loader import load  # tests/unit/bench/bench_loader.py

bench = load("backup")

D = dt.date


def test_timeline_is_one_backup_a_day_ending_today() -> None:
    days = bench.timeline(D(2026, 11, 26), 365)
    assert len(days) == 365
    assert days[0] == D(2025, 11, 27) and days[-1] == D(2026, 11, 26)
    assert all((b - a).days == 1 for a, b in zip(days, days[1:]))


def test_default_policy_keeps_seven_days_and_the_last_day_of_eleven_earlier_months() -> None:
    kept = bench.kept_points(bench.timeline(D(2026, 11, 26), 365), bench.KEEP)
    months = [D(2025, 12, 31), D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30), D(2026, 5, 31),
              D(2026, 6, 30), D(2026, 7, 31), D(2026, 8, 31), D(2026, 9, 30), D(2026, 10, 31)]
    days = [D(2026, 11, day) for day in range(20, 27)]
    # Today's backup is both the newest daily and this month's monthly: 18 points, not 19.
    assert kept == months + days


def test_days_across_a_month_boundary_count_for_both_policies() -> None:
    kept = bench.kept_points(bench.timeline(D(2026, 12, 3), 365), bench.KEEP)
    assert kept[-7:] == [D(2026, 11, 27) + dt.timedelta(days=n) for n in range(7)]
    # November's last day is a daily one as well: 7 + 10 points.
    assert len(kept) == 17
    assert kept[0] == D(2026, 1, 31)


def test_a_short_history_is_kept_whole() -> None:
    days = bench.timeline(D(2026, 3, 2), 4)
    assert bench.kept_points(days, bench.KEEP) == days


def test_weekly_yearly_and_last_buckets() -> None:
    days = bench.timeline(D(2026, 11, 26), 800)
    weekly = bench.kept_points(days, {"weekly": 3})
    assert weekly == [D(2026, 11, 15), D(2026, 11, 22), D(2026, 11, 26)]  # Sundays end ISO weeks
    assert bench.kept_points(days, {"yearly": 3}) == [D(2024, 12, 31), D(2025, 12, 31), D(2026, 11, 26)]
    assert bench.kept_points(days, {"last": 2}) == [D(2026, 11, 25), D(2026, 11, 26)]
    assert bench.kept_points(days, {}) == []


@pytest.mark.parametrize(("inserts_of", "days", "factor"), [
    ("current", 365, 1.01 ** 365), ("initial", 365, 4.65), ("current", 0, 1.0), ("initial", 30, 1.3)])
def test_growth_factor(inserts_of: str, days: int, factor: float) -> None:
    assert bench.growth_factor(days, inserts_of) == pytest.approx(factor)


def test_compounding_growth_makes_a_year_38_times() -> None:
    assert bench.growth_factor(365, "current") == pytest.approx(37.78, abs=0.01)
    assert bench.rows_at(100_000, 365, "current") == round(100_000 * 1.01 ** 365)
    assert bench.rows_at(100_000, 1, "initial") == 101_000


@pytest.mark.parametrize("inserts_of", ["current", "initial"])
def test_updates_are_a_fifth_of_the_inserts_of_the_same_days(inserts_of: str) -> None:
    """Day by day: 0.2 % of the data updated, 1 % inserted, on the same basis: the sum over a gap."""
    rows, initial, updates = 50_000, 50_000, 0.0
    for _ in range(30):
        basis = rows if inserts_of == "current" else initial
        updates += basis * 0.002
        rows += basis * 0.01
    assert bench.updates_for(round(rows - initial)) == pytest.approx(updates, abs=1)


def test_a_lower_update_rate() -> None:
    assert bench.updates_for(100_000, 0.002) == 200
    assert bench.updates_for(100_000) == 20_000


def test_update_fraction() -> None:
    assert bench.update_fraction(200, 1000) == 0.2
    assert bench.update_fraction(2000, 1000) == 1.0  # a window smaller than a long gap's updates
    assert bench.update_fraction(10, 0) == 0.0


def test_ratio_and_growth_per_point() -> None:
    assert bench.ratio(25, 100) == 0.25
    assert bench.ratio(1, 0) == math.inf
    assert bench.growth_per_point([100, 110, 125, 130]) == 10
    assert math.isnan(bench.growth_per_point([100]))


def test_log_phases_from_the_commands_time_stamps() -> None:
    log = "\n".join([
        "2026-11-26T01:00:00+00:00 snapshot 00000003-1 exported; 1 tables, 5 rows",
        "2026-11-26T01:00:31+00:00 dump checked: 123 bytes (compression 0), 31.0 s",
        "2026-11-26T01:00:51+00:00 local snapshot 1234abcd (database)",
        "2026-11-26T01:00:55+00:00 initialised the off-site repository s3:http://x/y",
        "2026-11-26T01:01:25+00:00 copied to the off-site repository: postgres 5678abcd",
        "2026-11-26T01:01:40+00:00 retention applied to both repositories (--keep-daily 7)",
        "2026-11-26T01:01:40+00:00 backup succeeded in 101.0 s",
        "a line without a time stamp",
    ])
    assert bench.log_phases(log) == {"dump+check": 31, "restic backup": 20, "off-site init": 4,
                                     "off-site copy": 30, "forget --prune": 15}


def test_restore_phases() -> None:
    log = ("2026-11-26T01:00:00+00:00 restoring local snapshot 1234abcd\n"
           "2026-11-26T01:01:00+00:00 database restored in 52.4 s")
    assert bench.restore_phases(log, 70.0) == "pg_restore 52, restic restore and the rest 18"
    assert bench.restore_phases("", 70.0) == ""


def test_all_targets_met() -> None:
    checks = bench.verdicts(0.25, {"nightly": 119.9}, {"restore": 299.0})
    assert [met for _, met in checks] == [True, True, True]


@pytest.mark.parametrize(("storage", "backup", "restore", "missed"), [
    (0.26, 60.0, 100.0, "storage"),
    (0.10, 120.0, 100.0, "backup"),
    (0.10, 60.0, 300.0, "restore"),
])
def test_each_target_can_be_missed(storage: float, backup: float, restore: float, missed: str) -> None:
    checks = bench.verdicts(storage, {"nightly": backup}, {"local": restore})
    assert [text.split()[0] for text, met in checks if not met] == [missed]


def test_every_timed_run_gets_a_verdict() -> None:
    checks = bench.verdicts(0.1, {"local": 50.0, "off-site": 130.0}, {"local": 100.0, "off-site": 200.0})
    assert len(checks) == 5
    assert [text for text, met in checks if not met] == ["backup under 120 s: off-site (130.0 s)"]


def test_the_config_is_one_the_command_accepts(tmp_path: Path) -> None:
    config = bench.ab.parse_config(bench.command_config(tmp_path))
    assert config.keep == {"daily": 7, "monthly": 12}
    assert config.dump_compression == 0
    assert config.offsite is None and config.project == bench.PREFIX
