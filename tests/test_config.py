from pathlib import Path

import pytest

from edge.config import load_config, parse_config
from edge.errors import ConfigError


def test_empty_config_means_camera_zero_and_default_microphone():
    config = parse_config("{}", env={})
    assert config.camera.source == 0
    assert config.microphone.device is None
    assert config.runtime.precision == "int8"
    assert config.sinks.mqtt.enabled is False


def test_unknown_key_names_path_and_line():
    with pytest.raises(ConfigError) as err:
        parse_config("camera:\n  source: 1\n  sorce: 2\n", "station.yaml", env={})
    assert "station.yaml:3: camera.sorce: unknown key" in str(err.value)


def test_bad_value_says_what_is_allowed():
    with pytest.raises(ConfigError) as err:
        parse_config("runtime:\n  precision: int4\n", "c.yaml", env={})
    message = str(err.value)
    assert "c.yaml:2: runtime.precision" in message and "'int8' or 'fp32'" in message


def test_several_errors_are_all_reported():
    with pytest.raises(ConfigError) as err:
        parse_config("camera:\n  queue_size: 0\nsinks:\n  jsonl:\n    backups: -1\n", "c.yaml", env={})
    assert "c.yaml:2: camera.queue_size" in str(err.value)
    assert "c.yaml:5: sinks.jsonl.backups" in str(err.value)


def test_broken_yaml_gives_line():
    with pytest.raises(ConfigError) as err:
        parse_config("camera:\n  source: [1,\n", "c.yaml", env={})
    assert "c.yaml:" in str(err.value) and "not valid YAML" in str(err.value)


def test_top_level_must_be_mapping():
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config("- camera\n", env={})


def test_environment_overrides_file():
    env = {"EDGE_DEVICE_ID": "line3-box7", "EDGE_STATE_DIR": "/tmp/x", "EDGE_MQTT_URL": "mqtts://broker:8883"}
    config = parse_config("device_id: other\n", env=env)
    assert config.device_id == "line3-box7"
    assert config.resolved_state_dir() == Path("/tmp/x")
    assert config.sinks.mqtt.enabled and config.sinks.mqtt.url == "mqtts://broker:8883"


def test_bad_mqtt_url_from_environment_is_a_config_error():
    with pytest.raises(ConfigError, match="sinks.mqtt.url"):
        parse_config("{}", env={"EDGE_MQTT_URL": "tcp://broker"})


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_relative_sink_paths_live_in_state_dir(tmp_path):
    config = parse_config(f"state_dir: {tmp_path}\nsinks:\n  jsonl:\n    path: out.jsonl\n", env={})
    assert config.state_path(config.sinks.jsonl.path, "events.jsonl") == tmp_path / "out.jsonl"
