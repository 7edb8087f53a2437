"""The CLI contract: exit codes per error class, one-line messages, events query formats."""

from __future__ import annotations

import json
import subprocess
import sys

from edge.cli import main
from edge.events import Event
from edge.sinks.store import EventStore


def run_cli(*args: str, env_state=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=120)


def test_bad_config_exits_2_with_line_number(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("camera:\n  sourse: 0\n")
    assert main(["check", "-c", str(cfg)]) == 2
    out = capsys.readouterr()
    assert f"{cfg}:2: camera.sourse: unknown key" in out.out


def test_missing_config_file_is_one_line(tmp_path, capsys):
    assert main(["run", "-c", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_check_fails_on_corrupt_model(tmp_path, tiny_models, capsys):
    (tiny_models / "tiny.onnx").write_bytes(b"garbage")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"models: {{dir: {tiny_models}}}\ncamera: {{enabled: false}}\nspeech: {{enabled: false}}\n"
                   "ocr: {enabled: false}\nfusion: {enabled: false}\n")
    assert main(["models", "-c", str(cfg)]) == 3
    assert "sha256" in capsys.readouterr().out


def test_check_reports_missing_model_for_enabled_stage(tmp_path, tiny_models, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"models: {{dir: {tiny_models}}}\ncamera: {{enabled: false}}\nmicrophone: {{enabled: false}}\n")
    assert main(["check", "-c", str(cfg)]) == 3
    out = capsys.readouterr().out
    assert "FAIL  ocr: enabled, but no int8 model in the manifest" in out


def test_check_fails_on_missing_camera_file(tmp_path, tiny_models, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"models: {{dir: {tiny_models}}}\ncamera: {{source: {tmp_path / 'nope.mp4'}}}\n"
                   "ocr: {enabled: false}\nspeech: {enabled: false}\nfusion: {enabled: false}\n")
    assert main(["check", "-c", str(cfg)]) == 4
    assert "FAIL  camera:" in capsys.readouterr().out


def test_events_jsonl_and_filters(isolated_state, capsys):
    store = EventStore(isolated_state / "events.db")
    events = [Event("ocr", "cam0", {"text": "LOT 2411-B07"}), Event("speech", "mic0", {"transcript": "pass"})]
    for e in events:
        store.append(e)
    store.close()
    assert main(["events", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [e.id for e in events]
    assert main(["events", "--format", "jsonl", "--kind", "speech"]) == 0
    assert [json.loads(x)["data"]["transcript"] for x in capsys.readouterr().out.splitlines()] == ["pass"]
    assert main(["events", "--since", "1h", "--text", "2411"]) == 0
    assert "LOT 2411-B07" in capsys.readouterr().out


def test_events_without_store_says_what_to_do(capsys):
    assert main(["events"]) == 5
    assert "run `edge run` first" in capsys.readouterr().err


def test_demo_runs_from_the_installed_command(isolated_state):
    result = run_cli("run", "--demo", "--max-seconds", "4")
    assert result.returncode == 0, result.stderr
    assert "first frame" in result.stderr
    assert (isolated_state / "events.db").is_file()
