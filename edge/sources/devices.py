"""`edge devices` (what is plugged in) and the device part of `edge check` (does the configured one work).

Checks return a one-line description when the source works and raise SourceError with the fix otherwise;
`edge check` runs them as systemd's ExecStartPre, so they must be quick and must never pass silently.
"""

from __future__ import annotations

import glob
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from edge.config import CameraConfig, MicrophoneConfig
from edge.errors import EdgeError, SourceError
from edge.sources import microphone
from edge.sources.audio import read_wav
from edge.sources.camera import (
    Capture,
    default_open_capture,
    device_path,
    list_images,
    open_failure,
    redact,
    require_gstreamer,
    source_kind,
)
from edge.sources.replay import wav_path

SYS_VIDEO = Path("/sys/class/video4linux")
CHECK_TIMEOUT_S = 10.0


def _video_index(path: str) -> int:
    match = re.search(r"(\d+)$", path)
    return int(match.group(1)) if match else -1


def list_cameras(
    dev_pattern: str = "/dev/video*",
    sys_root: Path = SYS_VIDEO,
    open_capture: Callable[[str], Capture] | None = None,
) -> list[dict[str, Any]]:
    """Every /dev/videoN with its driver name and whether it delivers frames (metadata nodes do not).

    A node already in use (e.g. by the running edge service) shows as not capturing with a note.
    """
    open_capture = open_capture or (lambda path: cv2.VideoCapture(path, cv2.CAP_V4L2))
    cameras = []
    for path in sorted(glob.glob(dev_pattern), key=_video_index):
        node = Path(path).name
        name_file = Path(sys_root) / node / "name"
        name = name_file.read_text().strip() if name_file.is_file() else ""
        entry: dict[str, Any] = {"index": _video_index(path), "path": path, "name": name, "capture": False}
        try:
            cap = open_capture(path)
        except Exception as exc:
            entry["note"] = f"cannot open: {exc}"
        else:
            if cap.isOpened():
                entry["capture"] = True
                entry["width"] = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
                entry["height"] = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                entry["fps"] = round(float(cap.get(cv2.CAP_PROP_FPS)), 2)
            else:
                entry["note"] = "not a capture node, or busy (in use by another program)"
            cap.release()
        cameras.append(entry)
    return cameras


def list_microphones() -> list[dict[str, Any]]:
    """Input devices PortAudio sees; without PortAudio one entry with `error` saying how to install it."""
    try:
        sd = microphone.load_sounddevice()
    except SourceError as exc:
        return [{"error": str(exc)}]
    try:
        devices = sd.query_devices()
        default_input = _default_input_index(sd)
        hostapis = sd.query_hostapis()
    except Exception as exc:
        return [{"error": f"PortAudio could not list devices: {exc}"}]
    found = []
    for index, info in enumerate(devices):
        if int(info.get("max_input_channels", 0)) <= 0:
            continue
        api = info.get("hostapi")
        found.append(
            {
                "index": index,
                "name": info.get("name", ""),
                "channels": int(info["max_input_channels"]),
                "default_samplerate": int(info.get("default_samplerate") or 0),
                "hostapi": hostapis[api]["name"] if isinstance(api, int) and api < len(hostapis) else "",
                "default": index == default_input,
            }
        )
    return found


def _default_input_index(sd: Any) -> int | None:
    try:
        value = sd.default.device
        index = value[0] if isinstance(value, (list, tuple)) else value
        return int(index) if index is not None and int(index) >= 0 else None
    except Exception:
        return None


# ---- checks for `edge check` -------------------------------------------------------------------------


def check_camera(cfg: CameraConfig, open_capture: Callable[[Any], Capture] | None = None) -> str:
    """One line describing the working camera source; SourceError with the fix when it does not work."""
    if not cfg.enabled:
        return "camera disabled"
    kind = source_kind(cfg.source)
    source = cfg.source
    if kind == "folder":
        return _check_folder(Path(str(source)).expanduser())
    if kind == "device" and not Path(device_path(source)).exists():
        raise SourceError(open_failure(kind, source))
    if kind == "gstreamer" and open_capture is None:
        require_gstreamer()
    cap = (open_capture or default_open_capture)(source)
    try:
        if not cap.isOpened():
            raise SourceError(open_failure(kind, source))
        image = _first_frame(cap)
        if image is None:
            raise SourceError(f"camera {redact(source)} opened but delivered no frame within {CHECK_TIMEOUT_S:g} s")
        height, width = image.shape[:2]
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    rate = f" at {fps:g} fps" if 0 < fps < 1000 else ""
    where = f"{source} ({device_path(source)})" if kind == "device" else redact(source)
    return f"camera {where}: {kind}, {width}x{height}{rate}"


def _first_frame(cap: Capture) -> Any:
    deadline = time.monotonic() + CHECK_TIMEOUT_S
    while time.monotonic() < deadline:  # some cameras return empty reads while they start
        ok, image = cap.read()
        if ok and image is not None:
            return image
        time.sleep(0.05)
    return None


def _check_folder(folder: Path) -> str:
    images = list_images(folder)
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            height, width = image.shape[:2]
            return f"camera {folder}: image folder, {len(images)} image(s), first {path.name} {width}x{height}"
    if images:
        raise SourceError(f"camera.source {folder}: none of its {len(images)} image files can be read")
    raise SourceError(f"camera.source {folder}: no image files (png, jpg, bmp, tiff, webp...) in this folder")


def check_microphone(cfg: MicrophoneConfig) -> str:
    """One line describing the working microphone or WAV replay; SourceError with the fix otherwise."""
    if not cfg.enabled:
        return "microphone disabled"
    wav = wav_path(cfg.device)
    if wav is not None:
        try:
            samples, rate = read_wav(wav)
        except EdgeError as exc:
            raise SourceError(f"microphone replay: {exc}") from None
        return f"microphone: WAV replay {wav}, {len(samples) / rate:.1f} s at {rate} Hz -> {cfg.sample_rate} Hz"
    sd = microphone.load_sounddevice()
    info = microphone.describe_device(sd, cfg.device)
    rate = int(cfg.device_rate or info.get("default_samplerate") or cfg.sample_rate)
    try:
        sd.check_input_settings(device=cfg.device, samplerate=rate, channels=1, dtype="float32")
    except Exception:
        try:  # the microphone source falls back to all channels mixed down, as here
            channels = int(info.get("max_input_channels", 2))
            sd.check_input_settings(device=cfg.device, samplerate=rate, channels=channels, dtype="float32")
        except Exception as exc:
            raise SourceError(
                f"microphone {info.get('name', cfg.device)!r} cannot record at {rate} Hz ({exc}); "
                "set microphone.device_rate to a rate it supports (`edge devices` shows its default)"
            ) from None
    resample = f" -> {cfg.sample_rate} Hz" if rate != cfg.sample_rate else ""
    return f"microphone {info.get('name', cfg.device)!r}: {rate} Hz{resample}, hop {cfg.hop_ms} ms"
