"""Camera frames from OpenCV: USB/CSI devices, network streams, GStreamer pipelines, video files, image folders.

Live sources (devices, URLs, pipelines) are supervised: a reader thread opens the capture and reads; when
opening fails, a read fails, or no frame arrives for `stall_timeout_s`, the reader is abandoned and a new
one is started after an exponential backoff (`reconnect_initial_s` doubling up to `reconnect_max_s`). A
reader stuck inside a blocking `read()` cannot be interrupted safely, so it is left to finish on its own
and its frames are ignored. Files and folders are read in order, paced at their frame rate when
`realtime`, looped when `loop`, and the source is `finished` at their end.

`emit` is called from the capture threads and must not block (the pipeline's frame queues drop the oldest
frame); the source counts what it captured, the queue counts what it dropped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.errors import SourceError
from edge.events import Frame

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
# what cv2.imread can decode (OpenCV 4.x/5.x with the PyPI wheel's codecs)
IMAGE_SUFFIXES = frozenset(
    [".bmp", ".dib", ".jpeg", ".jpg", ".jpe", ".jp2", ".png", ".webp", ".avif", ".pbm", ".pgm", ".ppm", ".pxm", ".pnm", ".pfm", ".sr", ".ras", ".tiff", ".tif", ".exr", ".hdr", ".pic", ".gif"]
)
DEFAULT_FOLDER_FPS = 1.0  # an image folder has no frame rate of its own; camera.fps overrides
DEFAULT_FILE_FPS = 25.0  # for files whose container does not say


class Capture(Protocol):
    """The part of cv2.VideoCapture a source uses (tests pass fakes with the same methods)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


OpenCapture = Callable[[int | str], Capture]


# ---- what kind of source --------------------------------------------------------------------------------


def source_kind(source: int | str) -> str:
    """'device', 'url', 'gstreamer', 'file' or 'folder'; SourceError for a path that does not exist."""
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        return "device"
    text = source.strip()
    if re.fullmatch(r"/dev/video\d+", text) or text.startswith("/dev/v4l/"):
        return "device"
    if "!" in text:
        return "gstreamer"
    if text.lower().startswith(URL_SCHEMES):
        return "url"
    path = Path(text).expanduser()
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "file"
    raise SourceError(
        f"camera.source {redact(source)!r} is not a device index, /dev/videoN, URL, GStreamer pipeline, or an "
        "existing video file or image folder; check the path (`edge devices` lists cameras)"
    )


def device_path(source: int | str) -> str:
    """/dev/videoN for a device index (or the path itself)."""
    text = str(source).strip()
    return f"/dev/video{int(text)}" if text.isdigit() else text


def redact(source: int | str) -> str:
    """The source for messages, logs and /healthz: a URL's password replaced by ***."""
    return re.sub(r"(://[^/@:\s]*):[^/\s]*@", r"\1:***@", str(source))


def open_failure(kind: str, source: int | str) -> str:
    """Why a capture did not open, and what to do about it."""
    shown = redact(source)
    if kind == "device":
        path = device_path(source)
        if not Path(path).exists():
            return f"camera {shown} ({path}) not found: is it plugged in? `edge devices` lists cameras"
        return (
            f"camera {shown} ({path}) did not open: in use by another program (is edge already running?), "
            "or no permission (add the user to the 'video' group)"
        )
    if kind == "folder":
        return f"camera.source {shown}: no readable images in this folder"
    if kind == "file":
        return f"camera.source {shown}: OpenCV cannot open this video file (corrupt or unsupported codec?)"
    return f"camera.source {shown}: the stream did not open (check the address, network and credentials)"


def gstreamer_available(build_info: str | None = None) -> bool:
    """Whether this OpenCV was built with GStreamer (the PyPI wheels are not)."""
    info = cv2.getBuildInformation() if build_info is None else build_info
    match = re.search(r"^\s*GStreamer:\s*(\S+)", info, re.MULTILINE)
    return bool(match and match.group(1).upper().startswith("YES"))


def require_gstreamer(build_info: str | None = None) -> None:
    if not gstreamer_available(build_info):
        raise SourceError(
            f"camera.source is a GStreamer pipeline, but this OpenCV ({cv2.__version__}, {cv2.__file__}) was "
            "built without GStreamer (the PyPI opencv-python wheels are); use the system OpenCV instead, e.g. "
            "JetPack's python3-opencv: `pip uninstall opencv-python-headless` in a venv created with "
            "--system-site-packages"
        )


def default_open_capture(source: int | str) -> Capture:
    """cv2.VideoCapture with the backend that suits the source kind, or an ImageFolderCapture."""
    kind = source_kind(source)
    if kind == "folder":
        return ImageFolderCapture(Path(str(source)).expanduser())
    if kind == "device":
        text = str(source).strip()
        target: int | str = int(text) if text.isdigit() else text
        return cv2.VideoCapture(target, cv2.CAP_V4L2)
    if kind == "gstreamer":
        require_gstreamer()
        return cv2.VideoCapture(str(source), cv2.CAP_GSTREAMER)
    if kind == "url":
        # bounded waits so a dead network camera surfaces as a failure the supervisor can retry
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10_000]
        return cv2.VideoCapture(str(source), cv2.CAP_FFMPEG, params)
    return cv2.VideoCapture(str(Path(str(source)).expanduser()))


# ---- image folders ----------------------------------------------------------------------------------


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    """Image files in `folder`, in natural order (img2 before img10)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=_natural_key)


class ImageFolderCapture:
    """A folder of images read like a video; unreadable images are logged, counted and skipped."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = list_images(folder)
        self.position = 0
        self.skipped: list[str] = []

    def isOpened(self) -> bool:
        return bool(self.files)

    def read(self) -> tuple[bool, np.ndarray | None]:
        while self.position < len(self.files):
            path = self.files[self.position]
            self.position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return True, image
            self.skipped.append(path.name)
            log.warning("camera: %s is not a readable image; skipped", path)
        return False, None

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(len(self.files))
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return False

    def release(self) -> None:
        self.position = len(self.files)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Frames are BGR uint8 with 3 channels whatever the device delivered."""
    if image.dtype != np.uint8:
        scale = 255.0 / max(float(np.iinfo(image.dtype).max), 1.0) if image.dtype.kind in "ui" else 255.0
        image = np.clip(image.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


# ---- the source -------------------------------------------------------------------------------------


class _Reader:
    """One connection attempt to a live source: open, then read until failure, stop or abandonment."""

    def __init__(self, owner: CameraSource, generation: int) -> None:
        self.owner = owner
        self.generation = generation
        self.done = threading.Event()
        self.abandoned = False
        self.frames = 0
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name=f"camera-read:{owner.cfg.id}", daemon=True)

    def _run(self) -> None:
        owner = self.owner
        cap: Capture | None = None
        try:
            cap = owner._open()
            while not self.abandoned and not owner._stop.is_set():
                ok, image = cap.read()
                if self.abandoned or owner._stop.is_set():
                    break
                if not ok or image is None:
                    self.error = "read failed (device unplugged or stream ended?)"
                    break
                if owner._deliver(image, self.generation):
                    self.frames += 1
        except Exception as exc:  # open failures and backend errors all mean: reconnect
            self.error = _one_line(exc)
        finally:
            if cap is not None:
                _release(cap)
            self.done.set()


class CameraSource:
    """Frames from cfg.source, emitted as `Frame`s with increasing frame ids (see the module docstring)."""

    def __init__(
        self,
        cfg: CameraConfig,
        emit: Callable[[Frame], None],
        open_capture: OpenCapture | None = None,
    ) -> None:
        self.cfg = cfg
        self._emit = emit
        self.kind = source_kind(cfg.source)
        if self.kind == "gstreamer" and open_capture is None:
            require_gstreamer()
        self._open_capture = open_capture or default_open_capture
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._generation = 0
        self._next_id = 0
        self._state = "stopped"
        self._error: str | None = None
        self._reconnects = 0
        self._recent: deque[float] = deque(maxlen=30)
        self._last_frame_mono: float | None = None
        self._file_capture: Capture | None = None
        self._skipped: list[str] = []
        self.finished = False

    # ---- public API ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The source id from the config (camera.id / microphone.id)."""
        return self.cfg.id

    @property
    def live(self) -> bool:
        return self.kind in ("device", "url", "gstreamer")

    def start(self) -> None:
        """Files and folders are opened here so a bad one is a clear error at start-up; live sources
        are opened by the capture thread (a camera that is absent now may appear later)."""
        self._stop.clear()
        if not self.live:
            self._file_capture = self._open()
        self._state = "running" if not self.live else "reconnecting"
        target = self._run_live if self.live else self._run_file
        self._thread = threading.Thread(target=target, name=f"camera:{self.cfg.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        recent = list(self._recent)
        fps = 0.0
        if len(recent) > 1 and recent[-1] > recent[0]:
            interval = (recent[-1] - recent[0]) / (len(recent) - 1)
            if time.monotonic() - recent[-1] < max(2.0, 3 * interval):  # frames still coming
                fps = 1.0 / interval
        return {
            "state": self._state,
            "source": redact(self.cfg.source),
            "kind": self.kind,
            "frames": self._next_id,
            "fps": round(fps, 2),
            "reconnects": self._reconnects,
            "skipped": len(self._skipped),
            "last_frame_mono": self._last_frame_mono,
            "error": self._error,
        }

    # ---- shared --------------------------------------------------------------------------------------

    def _open(self) -> Capture:
        """Open and configure the capture; SourceError if it does not open."""
        cap = self._open_capture(self.cfg.source)
        if cap is None or not cap.isOpened():
            if cap is not None:
                _release(cap)
            raise SourceError(open_failure(self.kind, self.cfg.source))
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.cfg.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.cfg.height),
            (cv2.CAP_PROP_FPS, self.cfg.fps if self.live else None),
        ):
            if value is not None:
                cap.set(prop, float(value))
        fourcc = getattr(self.cfg, "fourcc", None)  # e.g. "MJPG": USB cameras give full rate at high resolution
        if fourcc and self.live:
            cap.set(cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter_fourcc(*str(fourcc)[:4].ljust(4))))
        return cap

    def _deliver(self, image: np.ndarray, generation: int | None = None) -> bool:
        """Stamp and emit one captured image; frames of an abandoned reader are ignored."""
        t_mono, t_wall = time.monotonic(), time.time()
        image = as_bgr(image)
        with self._lock:
            if generation is not None and generation != self._generation:
                return False
            frame_id = self._next_id
            self._next_id += 1
            self._last_frame_mono = t_mono
            self._recent.append(t_mono)
            if generation is not None and self._state != "running":
                self._state, self._error = "running", None  # a live source is back
        try:
            self._emit(Frame(self.cfg.id, frame_id, t_mono, t_wall, image))
        except Exception:  # a downstream bug must not stop capture; it is logged with its traceback
            log.exception("camera %s: emit failed", self.cfg.id)
        return True

    # ---- files and folders ---------------------------------------------------------------------------

    def _frame_interval(self, cap: Capture) -> float:
        if self.cfg.fps:
            return 1.0 / self.cfg.fps
        if self.kind == "folder":
            return 1.0 / DEFAULT_FOLDER_FPS
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        return 1.0 / (fps if 0.0 < fps < 1000.0 else DEFAULT_FILE_FPS)

    def _run_file(self) -> None:
        cap = self._file_capture
        try:
            while cap is not None and not self._stop.is_set():
                produced = self._play(cap)
                self._collect_skipped(cap)
                _release(cap)
                cap = None
                if produced == 0 and not self._stop.is_set():
                    self._error = f"camera.source {redact(self.cfg.source)}: no frame could be read (corrupt or unsupported?)"
                    log.error("camera %s: %s", self.cfg.id, self._error)
                    break
                if not self.cfg.loop or self._stop.is_set():
                    break
                cap = self._open()
        except Exception as exc:  # reported in status, never raised out of the thread
            self._error = _one_line(exc)
            log.error("camera %s: %s", self.cfg.id, self._error)
        finally:
            if cap is not None:
                _release(cap)
        if self._stop.is_set() and not self._error:
            self._state = "stopped"
        else:
            self.finished = True
            self._state = "finished"

    def _play(self, cap: Capture) -> int:
        """Read one pass of the file/folder, paced when realtime; returns frames delivered."""
        interval = self._frame_interval(cap)
        began = time.monotonic()
        produced = 0
        while not self._stop.is_set():
            ok, image = cap.read()
            if not ok or image is None:
                break
            if self.cfg.realtime:
                self._stop.wait(max(0.0, began + produced * interval - time.monotonic()))
                if self._stop.is_set():
                    break
            self._deliver(image)
            produced += 1
        return produced

    def _collect_skipped(self, cap: Capture) -> None:
        skipped = getattr(cap, "skipped", None)
        if skipped:
            self._skipped.extend(skipped)
            self._error = f"{len(self._skipped)} unreadable image(s) skipped, e.g. {self._skipped[0]}"

    # ---- live sources -------------------------------------------------------------------------------

    def _run_live(self) -> None:
        delay = self.cfg.reconnect_initial_s
        poll = min(0.1, self.cfg.stall_timeout_s / 4)
        while not self._stop.is_set():
            reader = _Reader(self, self._generation)
            began = time.monotonic()
            reader.thread.start()
            reason = None
            while not self._stop.is_set():
                if reader.done.wait(poll):
                    reason = reader.error or "capture ended"
                    break
                last = max(began, self._last_frame_mono or began)
                if time.monotonic() - last > self.cfg.stall_timeout_s:
                    reason = f"no frame for {self.cfg.stall_timeout_s:g} s (stalled stream or device)"
                    break
            with self._lock:
                reader.abandoned = True
                self._generation += 1  # whatever this reader still delivers is ignored from now on
            if self._stop.is_set():
                break
            if reader.frames:
                delay = self.cfg.reconnect_initial_s  # it worked for a while: start the backoff afresh
            self._state, self._error = "reconnecting", reason
            log.warning("camera %s: %s; reconnecting in %.2g s", self.cfg.id, reason, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.cfg.reconnect_max_s)
            self._reconnects += 1
        self._state = "stopped"


def _release(cap: Capture) -> None:
    try:
        cap.release()
    except Exception as exc:
        log.debug("releasing capture: %s", exc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
