"""Loads a Python file that is not a package module (a host tool, a test stand-in, a benchmark) by its
path, registered under a name in sys.modules: dataclasses look their module up there."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_source(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
