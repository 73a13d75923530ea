"""Loads a benchmark's run.py (bench/<name>/run.py) as a module, for the bench tests beside this file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    """bench/<name>/run.py, registered as bench_<name>_run (dataclasses need it in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}_run", BENCH / name / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
