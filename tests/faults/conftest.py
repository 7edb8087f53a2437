"""Fixtures for fault injection (helpers live in edge_process.py, importable by tests and tools/soak.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_process import EdgeProcess


@pytest.fixture
def edge_process(tmp_path):
    made: list[EdgeProcess] = []

    def make(**kwargs) -> EdgeProcess:
        process = EdgeProcess(tmp_path, **kwargs)
        made.append(process)
        return process

    yield make
    for process in made:
        process.kill()
