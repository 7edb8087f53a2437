"""Import one of the tools/<folder>/ scripts from a test without side effects on other tests."""

import importlib
import sys
from pathlib import Path
from types import ModuleType

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def import_tool(folder: str, name: str) -> ModuleType:
    """Import tools/<folder>/<name>.py without leaving tools/<folder> on sys.path or its modules in sys.modules:
    tools/fusion, tools/ocr and tools/speech have modules of the same names (train, evaluate, make_data) that
    other tests import, and theirs may already be loaded."""
    names = {path.stem for path in (TOOLS / folder).glob("*.py")}
    saved_path = list(sys.path)
    shadowed = {key: sys.modules.pop(key) for key in names & set(sys.modules)}
    sys.path.insert(0, str(TOOLS / folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved_path
        for key in names & set(sys.modules):
            del sys.modules[key]
        sys.modules.update(shadowed)
