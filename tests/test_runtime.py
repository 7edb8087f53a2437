import numpy as np
import pytest

from edge.errors import ModelError
from edge.runtime import ModelSession, load_manifest, resolve_providers
from tests.conftest import make_tiny_onnx


def test_session_runs_and_reads_metadata(tiny_models):
    session = ModelSession.from_manifest(load_manifest(tiny_models), "tiny", "int8", required_metadata=["classes"])
    (y,) = session.run({"x": np.ones((2, 4), np.float32)})
    assert y.shape == (2, 3)
    assert np.allclose(y[0], [18, 22, 26])
    assert session.metadata["classes"] == "a,b,c"
    assert session.provider == "CPUExecutionProvider"


def test_wrong_sha256_is_a_model_error(tiny_models):
    (tiny_models / "tiny.onnx").write_bytes((tiny_models / "tiny.onnx").read_bytes() + b"x")
    with pytest.raises(ModelError, match="sha256"):
        ModelSession.from_manifest(load_manifest(tiny_models), "tiny")


def test_truncated_file_is_a_clear_model_error(tmp_path):
    path = make_tiny_onnx(tmp_path / "m.onnx")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelError) as err:
        ModelSession(path)
    assert str(path) in str(err.value)


def test_missing_metadata_is_reported(tmp_path):
    path = make_tiny_onnx(tmp_path / "m.onnx", metadata={"version": "1"})
    with pytest.raises(ModelError, match="lacks metadata charset"):
        ModelSession(path, required_metadata=["charset"])


def test_input_checks_name_shape_and_dtype(tmp_path):
    session = ModelSession(make_tiny_onnx(tmp_path / "m.onnx"))
    with pytest.raises(ModelError, match="float32"):
        session.run({"x": np.ones((1, 4), np.float64)})
    with pytest.raises(ModelError, match="shape"):
        session.run({"x": np.ones((1, 5), np.float32)})
    with pytest.raises(ModelError, match="do not match"):
        session.run({"z": np.ones((1, 4), np.float32)})


def test_unknown_model_and_missing_manifest(tiny_models, tmp_path):
    with pytest.raises(ModelError, match="not listed"):
        load_manifest(tiny_models).file("ocr")
    with pytest.raises(ModelError, match="no model manifest"):
        load_manifest(tmp_path / "empty")


def test_missing_file_named_in_error(tiny_models):
    (tiny_models / "tiny.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        ModelSession.from_manifest(load_manifest(tiny_models), "tiny")


def test_provider_resolution_always_ends_with_cpu():
    assert resolve_providers(["cuda"])[-1] == "CPUExecutionProvider"
    assert resolve_providers(["auto"])[-1] == "CPUExecutionProvider"


def test_provider_fallback_is_logged(tmp_path, caplog, monkeypatch):
    import edge.runtime.session as session_module

    monkeypatch.setattr(session_module, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with caplog.at_level("WARNING"):
        session = ModelSession(make_tiny_onnx(tmp_path / "m.onnx"), providers=["cuda"])
    assert session.provider == "CPUExecutionProvider"
    assert "running on CPUExecutionProvider" in caplog.text


def test_runtime_threads_also_caps_opencv(tmp_path, monkeypatch):
    """runtime.threads is the process's CPU budget: building the application applies it to OpenCV's pool."""
    import cv2
    import yaml

    import edge.app
    from edge.app import Application
    from edge.config import parse_config

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), np.zeros((8, 8, 3), np.uint8))
    config = parse_config(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"), "camera": {"source": str(frames)},
        "microphone": {"enabled": False}, "sinks": {"console": {"enabled": False}},
        "runtime": {"threads": 1},
    }), env={})
    monkeypatch.setattr(edge.app, "build_stages", lambda cfg, manifest, optional=False: [])
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        Application(config)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)
