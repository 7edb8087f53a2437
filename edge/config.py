"""Configuration: YAML -> validated, typed objects.

Unknown keys are rejected (a typo must not silently fall back to a default) and every error names the key
path, the YAML line and what is allowed. Environment variables from systemd's EnvironmentFile= override
the file: EDGE_CONFIG, EDGE_DEVICE_ID, EDGE_STATE_DIR, EDGE_MQTT_URL.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge.errors import ConfigError
from edge.fusion.settings import FusionConfig
from edge.ocr.settings import OcrConfig
from edge.speech.settings import SpeechConfig

DEFAULT_CONFIG_PATHS = (Path("/etc/edge/config.yaml"),)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraConfig(Strict):
    """`source`: device index (0), /dev/videoN, rtsp://..., http://..., a GStreamer pipeline
    (contains '!'), a video file, or a folder of images."""

    enabled: bool = True
    source: int | str = 0
    id: str = "camera0"
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    fps: float | None = Field(default=None, gt=0)  # live: request this rate; files/folders: replay rate
    fourcc: str | None = Field(default=None, min_length=4, max_length=4)  # e.g. MJPG for full-rate USB capture
    queue_size: int = Field(default=4, ge=1, le=1000)
    realtime: bool = True  # files/folders: pace at the file's frame rate (False: as fast as possible)
    loop: bool = False  # files/folders: start again at the end
    reconnect_initial_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    stall_timeout_s: float = Field(default=5.0, gt=0)  # no frame for this long = reconnect


class MicrophoneConfig(Strict):
    """`device`: null (system default), an index, a name substring, or a WAV file to replay."""

    enabled: bool = True
    device: int | str | None = None
    id: str = "mic0"
    sample_rate: int = Field(default=16000, ge=8000, le=192000)  # rate the stages receive
    device_rate: int | None = Field(default=None, ge=8000, le=192000)  # null: the device's default
    hop_ms: int = Field(default=20, ge=5, le=500)
    block_size: int = Field(default=0, ge=0)  # 0: let PortAudio choose
    queue_seconds: float = Field(default=10.0, gt=0)
    realtime: bool = True  # WAV replay paced like a live microphone


class RuntimeConfig(Strict):
    providers: list[Literal["auto", "tensorrt", "cuda", "cpu"]] = ["auto"]
    threads: int = Field(default=1, ge=1, le=64)
    precision: Literal["int8", "fp32"] = "int8"
    stage_timeout_s: float = Field(default=30.0, gt=0)  # one item taking longer = stage hung (watchdog stops)


class ModelsConfig(Strict):
    dir: Path | None = None  # null: models/ beside the package


class ConsoleSinkConfig(Strict):
    enabled: bool = True


class JsonlSinkConfig(Strict):
    enabled: bool = True
    path: Path | None = None  # null: <state_dir>/events.jsonl
    max_bytes: int = Field(default=10_000_000, ge=1000)
    backups: int = Field(default=5, ge=0, le=1000)


class SqliteSinkConfig(Strict):
    enabled: bool = True
    path: Path | None = None  # null: <state_dir>/events.db
    max_events: int = Field(default=1_000_000, ge=100)  # oldest pruned beyond this (reported, never silent)


class SnapshotSinkConfig(Strict):
    enabled: bool = True
    dir: Path | None = None  # null: <state_dir>/snapshots
    max_count: int = Field(default=2000, ge=1)
    max_bytes: int = Field(default=500_000_000, ge=10_000)
    jpeg_quality: int = Field(default=85, ge=10, le=100)


class MqttSinkConfig(Strict):
    enabled: bool = False
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    topic_prefix: str = "edge"
    qos: Literal[0, 1, 2] = 1
    keepalive_s: int = Field(default=30, ge=5)
    outbox_path: Path | None = None  # null: <state_dir>/outbox.db
    outbox_max_events: int = Field(default=1_000_000, ge=100)
    metrics_interval_s: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must look like mqtt://host:port or mqtts://host:port")
        return value


class HttpSinkConfig(Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    token: str | None = None


class SinksConfig(Strict):
    console: ConsoleSinkConfig = ConsoleSinkConfig()
    jsonl: JsonlSinkConfig = JsonlSinkConfig()
    sqlite: SqliteSinkConfig = SqliteSinkConfig()
    snapshots: SnapshotSinkConfig = SnapshotSinkConfig()
    mqtt: MqttSinkConfig = MqttSinkConfig()
    http: HttpSinkConfig = HttpSinkConfig()
    queue_size: int = Field(default=10_000, ge=10)  # per sink; beyond it the sink reports drops


class EdgeConfig(Strict):
    device_id: str = Field(default_factory=socket.gethostname)
    state_dir: Path | None = None  # null: $EDGE_STATE_DIR, $STATE_DIRECTORY (systemd), ~/.local/state/edge
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    camera: CameraConfig = CameraConfig()
    microphone: MicrophoneConfig = MicrophoneConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    models: ModelsConfig = ModelsConfig()
    ocr: OcrConfig = OcrConfig()
    speech: SpeechConfig = SpeechConfig()
    fusion: FusionConfig = FusionConfig()
    sinks: SinksConfig = SinksConfig()

    def resolved_state_dir(self) -> Path:
        if self.state_dir is not None:
            return Path(self.state_dir).expanduser()
        if os.environ.get("STATE_DIRECTORY"):
            return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
        base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        return Path(base) / "edge"

    def state_path(self, configured: Path | None, default_name: str) -> Path:
        """A sink path from the config, or `<state_dir>/<default_name>`; relative paths live in state_dir."""
        path = Path(configured).expanduser() if configured else Path(default_name)
        return path if path.is_absolute() else self.resolved_state_dir() / path


# ---- loading ---------------------------------------------------------------------------------------------


def _line_index(text: str) -> dict[tuple, int]:
    """Map each key path in the YAML document to its 1-based line number."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
                lines[path + (key.value,)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see README 'Configuration')"
    if kind == "literal_error":
        return error["msg"].replace("Input should be", "must be")
    return error["msg"].replace("Input should be", "must be").replace("Value error, ", "")


def format_validation_error(exc: ValidationError, lines: dict[tuple, int], source: str) -> str:
    problems = []
    for error in exc.errors():
        # pydantic adds union member names ("int", "str") to loc; drop those for a readable key path
        loc = tuple(p for p in error["loc"] if p not in ("int", "str", "none"))
        path = ".".join(str(p) for p in loc) or "(top level)"
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        where = f"{source}:{line}" if line else source
        problems.append(f"{where}: {path}: {_describe(error)}")
    unique = list(dict.fromkeys(problems))
    return "invalid configuration\n  " + "\n  ".join(unique)


def apply_environment(data: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """EDGE_DEVICE_ID, EDGE_STATE_DIR and EDGE_MQTT_URL override the file (EDGE_MQTT_URL turns MQTT on)."""
    data = dict(data)
    if env.get("EDGE_DEVICE_ID"):
        data["device_id"] = env["EDGE_DEVICE_ID"]
    if env.get("EDGE_STATE_DIR"):
        data["state_dir"] = env["EDGE_STATE_DIR"]
    if env.get("EDGE_MQTT_URL"):
        sinks = dict(data.get("sinks") or {})
        mqtt = dict(sinks.get("mqtt") or {})
        mqtt.update(enabled=True, url=env["EDGE_MQTT_URL"])
        sinks["mqtt"] = mqtt
        data["sinks"] = sinks
    return data


def parse_config(text: str, source: str = "<config>", env: dict[str, str] | None = None) -> EdgeConfig:
    try:
        data = yaml.safe_load(text)
        lines = _line_index(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML ({problem}); check indentation and quoting") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply or refers to itself (YAML anchors/aliases); simplify it") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # PyYAML's constructors raise these for explicit tags with bad values, e.g. `!!int x`
        raise ConfigError(f"{source}: a value cannot be read ({exc}); remove explicit YAML tags like !!int") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (e.g. `camera:`), not {type(data).__name__}")
    data = apply_environment(data, dict(os.environ) if env is None else env)
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, lines, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: a value refers to itself (YAML anchors/aliases); write it out instead") from None


def find_config_path(explicit: str | Path | None) -> Path | None:
    """-c FILE, else $EDGE_CONFIG, else /etc/edge/config.yaml if present, else none (all defaults)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("EDGE_CONFIG"):
        return Path(os.environ["EDGE_CONFIG"])
    return next((p for p in DEFAULT_CONFIG_PATHS if p.is_file()), None)


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> EdgeConfig:
    """Load and validate the config; with no file, every default applies (camera 0, default microphone)."""
    resolved = find_config_path(path)
    if resolved is None:
        return parse_config("{}", "<defaults>", env)
    try:
        text = resolved.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {resolved} does not exist; pass -c FILE or set EDGE_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {resolved}: {exc.strerror}") from None
    return resolve_relative_paths(parse_config(text, str(resolved), env), resolved.parent)


def resolve_relative_paths(config: EdgeConfig, base: Path) -> EdgeConfig:
    """Media files and the models folder named relative to the config file are found next to it, so a
    config and its files can be copied together (the demo relies on this)."""

    def near_config(value: object) -> object:
        if isinstance(value, (str, Path)) and not Path(value).is_absolute() and (base / value).exists():
            return str(base / value)
        return value

    if isinstance(config.camera.source, str) and "://" not in config.camera.source and "!" not in config.camera.source:
        config.camera.source = near_config(config.camera.source)
    if isinstance(config.microphone.device, str):
        config.microphone.device = near_config(config.microphone.device)
    if config.models.dir is not None:
        config.models.dir = Path(near_config(config.models.dir))
    return config
