"""Loads a benchmark's run.py (bench/<name>/run.py) as a module, for the bench tests beside this file."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from source_loader import load_source  # tests/unit/source_loader.py

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    """bench/<name>/run.py, registered as bench_<name>_run (dataclasses need it in sys.modules)."""
    return load_source(f"bench_{name}_run", BENCH / name / "run.py")
