"""`edge devices` listings and `edge check` device checks, against fake /dev, /sys and sounddevice."""

from __future__ import annotations

import wave

import cv2
import numpy as np
import pytest

from edge.config import CameraConfig, MicrophoneConfig
from edge.errors import SourceError
from edge.sources import devices, microphone


class _Cap:
    def __init__(self, opened: bool) -> None:
        self.opened = opened
        self.released = False

    def isOpened(self):
        return self.opened

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 30.0}.get(prop, 0.0)

    def read(self):
        return (True, np.zeros((480, 640, 3), np.uint8)) if self.opened else (False, None)

    def release(self):
        self.released = True


def test_list_cameras_names_nodes_and_tells_capture_from_metadata(tmp_path):
    dev, sys_root = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    for n, name in [(0, "HD USB Camera"), (1, "HD USB Camera"), (10, "imx219")]:
        (dev / f"video{n}").touch()
        (sys_root / f"video{n}").mkdir(parents=True)
        (sys_root / f"video{n}" / "name").write_text(name + "\n")
    opened = {str(dev / "video0"): True, str(dev / "video1"): False, str(dev / "video10"): True}
    cameras = devices.list_cameras(str(dev / "video*"), sys_root, open_capture=lambda p: _Cap(opened[p]))
    assert [c["index"] for c in cameras] == [0, 1, 10]
    assert cameras[0] == {
        "index": 0, "path": str(dev / "video0"), "name": "HD USB Camera", "capture": True,
        "width": 640, "height": 480, "fps": 30.0,
    }
    assert not cameras[1]["capture"] and "busy" in cameras[1]["note"]
    assert cameras[2]["name"] == "imx219"


def test_list_cameras_with_none_plugged_in(tmp_path):
    assert devices.list_cameras(str(tmp_path / "video*"), tmp_path) == []


class _FakeSd:
    PortAudioError = RuntimeError

    class default:
        device = (1, 3)

    def query_devices(self, device=None, kind=None):
        table = [
            {"name": "HDA Intel: HDMI", "max_input_channels": 0, "default_samplerate": 48000.0, "hostapi": 0},
            {"name": "USB Headset", "max_input_channels": 1, "default_samplerate": 48000.0, "hostapi": 0},
            {"name": "Array Mic", "max_input_channels": 4, "default_samplerate": 16000.0, "hostapi": 0},
        ]
        if kind is None and device is None:
            return table
        matches = [d for i, d in enumerate(table) if d["max_input_channels"] and (
            device is None and i == 1 or device == i or isinstance(device, str) and device in d["name"])]
        if not matches:
            raise ValueError(f"No input device matching {device!r}")
        return matches[0]

    def query_hostapis(self):
        return [{"name": "ALSA"}]

    def check_input_settings(self, device=None, samplerate=None, channels=None, dtype=None):
        if device == 2 and channels == 1:
            raise RuntimeError("Invalid number of channels")
        if samplerate not in (16000, 48000):
            raise RuntimeError("Invalid sample rate")


@pytest.fixture
def fake_sd(monkeypatch):
    fake = _FakeSd()
    monkeypatch.setattr(microphone, "_import_sounddevice", lambda: fake)
    return fake


def test_list_microphones_only_inputs_with_default_marked(fake_sd):
    mics = devices.list_microphones()
    assert [m["name"] for m in mics] == ["USB Headset", "Array Mic"]
    assert mics[0] == {
        "index": 1, "name": "USB Headset", "channels": 1, "default_samplerate": 48000, "hostapi": "ALSA",
        "default": True,
    }
    assert not mics[1]["default"]


def test_missing_portaudio_gives_an_error_entry_and_a_failed_check(monkeypatch):
    def missing():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(microphone, "_import_sounddevice", missing)
    listing = devices.list_microphones()
    assert len(listing) == 1 and "apt-get install libportaudio2" in listing[0]["error"]
    with pytest.raises(SourceError, match="libportaudio2"):
        devices.check_microphone(MicrophoneConfig())


def test_check_microphone(fake_sd):
    assert devices.check_microphone(MicrophoneConfig()) == "microphone 'USB Headset': 48000 Hz -> 16000 Hz, hop 20 ms"
    assert "16000 Hz, hop" in devices.check_microphone(MicrophoneConfig(device=2))  # multichannel fallback
    assert devices.check_microphone(MicrophoneConfig(enabled=False)) == "microphone disabled"
    with pytest.raises(SourceError, match="`edge devices` lists microphones"):
        devices.check_microphone(MicrophoneConfig(device="Bluetooth"))
    with pytest.raises(SourceError, match="device_rate"):
        devices.check_microphone(MicrophoneConfig(device_rate=44100))


def test_check_microphone_wav_replay(tmp_path):
    path = tmp_path / "cmd.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(np.zeros(4000, "<i2").tobytes())
    assert devices.check_microphone(MicrophoneConfig(device=str(path))).endswith("0.5 s at 8000 Hz -> 16000 Hz")


def test_check_camera_missing_device_says_what_to_do():
    with pytest.raises(SourceError, match=r"camera 57 \(/dev/video57\) not found: is it plugged in\? `edge devices`"):
        devices.check_camera(CameraConfig(source=57))


def test_check_camera_file_and_folder(tmp_path):
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for _ in range(3):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    assert devices.check_camera(CameraConfig(source=str(clip))) == f"camera {clip}: file, 32x24 at 10 fps"
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"garbage")
    with pytest.raises(SourceError, match="none of its 1 image files can be read"):
        devices.check_camera(CameraConfig(source=str(folder)))
    cv2.imwrite(str(folder / "b.png"), np.zeros((5, 7, 3), np.uint8))
    assert "2 image(s), first b.png 7x5" in devices.check_camera(CameraConfig(source=str(folder)))


def test_check_camera_stream_that_does_not_open():
    with pytest.raises(SourceError, match="did not open .check the address"):
        devices.check_camera(CameraConfig(source="rtsp://cam/x"), open_capture=lambda s: _Cap(False))
    assert devices.check_camera(CameraConfig(source="rtsp://cam/x"), open_capture=lambda s: _Cap(True)).startswith(
        "camera rtsp://cam/x: url, 640x480 at 30 fps"
    )
