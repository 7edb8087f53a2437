"""Shared fixtures: a tiny ONNX model built in the test, and an isolated state dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge.runtime import sha256_of, update_manifest_entry


def make_tiny_onnx(path: Path, metadata: dict[str, str] | None = None) -> Path:
    """y = relu(x @ W), x: float32 [batch, 4] -> y: [batch, 3]."""
    weight = helper.make_tensor("W", TensorProto.FLOAT, [4, 3], np.arange(12, dtype=np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {"classes": "a,b,c", "version": "1"}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


@pytest.fixture
def tiny_models(tmp_path: Path) -> Path:
    """A models dir with manifest.yaml listing one tiny model 'tiny' (int8 and fp32 are the same file)."""
    models = tmp_path / "models"
    models.mkdir()
    path = make_tiny_onnx(models / "tiny.onnx")
    digest = sha256_of(path)
    update_manifest_entry(
        models, "tiny",
        {"version": "1", "files": {p: {"file": "tiny.onnx", "sha256": digest, "bytes": path.stat().st_size} for p in ("int8", "fp32")}},
    )
    return models


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch ~/.local/state or /etc/edge from a test."""
    state = tmp_path / "state"
    monkeypatch.setenv("EDGE_STATE_DIR", str(state))
    for var in ("EDGE_CONFIG", "EDGE_MQTT_URL", "EDGE_DEVICE_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        monkeypatch.delenv(var, raising=False)
    return state


def track_started(monkeypatch: pytest.MonkeyPatch, *classes: type) -> list:
    """Record every source of these classes started during a test, so the test's teardown can stop them
    and a failing test never leaves capture threads running."""
    started: list = []
    for cls in classes:
        original = cls.start

        def start(self, _original=original):
            started.append(self)
            _original(self)

        monkeypatch.setattr(cls, "start", start)
    return started


def stop_all(sources: list) -> None:
    for source in sources:
        source.stop()
    for source in sources:
        source.join(2)
