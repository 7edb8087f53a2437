"""Render parts with printed labels (serial number + lot code) for the fusion demo task.

One `PartSpec` says what is true about a part (class, printed codes, defect kind and severity, font); `render_part`
draws it upright, `place_part` puts it on a background under a pose, and `apply_light` varies the lighting
and sensor. Everything is driven by a numpy Generator, so the same seed always gives the same pixels.

Classes (edge.fusion.codes.CLASSES):
  ok              label present, codes well formed and from the expected batch
  label_missing   no sticker, adhesive residue only, or a blank sticker
  print_defect    smudged, faded or partial print
  wrong_code      looks like `ok`, but the serial's check digit / the pattern / the batch is wrong (text only)
  surface_defect  scratch, dent or stain on the part (image only; subtle ones are hard to see)
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing
from edge.fusion.codes import CLASSES, luhn_digit, make_serial

PART_W, PART_H = 260, 160
LABEL_BOX = (28, 34, 232, 126)  # x0, y0, x1, y1 of the sticker on the part
FONT_DIR = Path("/usr/share/fonts/truetype")
FONTS = (
    "dejavu/DejaVuSansMono-Bold.ttf",
    "dejavu/DejaVuSansMono.ttf",
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSansCondensed-Bold.ttf",
    "liberation/LiberationMono-Bold.ttf",
    "liberation/LiberationMono-Regular.ttf",
    "liberation/LiberationSans-Bold.ttf",
    "liberation/LiberationSansNarrow-Bold.ttf",
    "croscore/Cousine-Bold.ttf",
    "croscore/Arimo-Bold.ttf",
    "freefont/FreeMonoBold.ttf",
    "freefont/FreeSansBold.ttf",
    "noto/NotoSansMono-Regular.ttf",
    "noto/NotoSansMono-Bold.ttf",
)
DEFECTS = {
    "ok": ("none",),
    "label_missing": ("bare", "residue", "blank"),
    "print_defect": ("smudge", "faded", "partial"),
    "wrong_code": ("bad_check", "other_batch", "malformed"),
    "surface_defect": ("scratch", "dent", "stain"),
}


def available_fonts() -> list[str]:
    """The fonts of FONTS installed here (Debian packages fonts-dejavu, -liberation, -croscore, -freefont, -noto)."""
    found = [str(FONT_DIR / name) for name in FONTS if (FONT_DIR / name).is_file()]
    if not found:
        raise SystemExit(f"no label fonts found under {FONT_DIR}; apt-get install fonts-dejavu-core fonts-liberation")
    return found


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class PartSpec:
    """Everything that is true about one part; the label is what the renderer prints."""

    cls: str
    defect: str
    severity: float  # 0 subtle .. 1 obvious
    serial: str  # printed serial ("" when nothing is printed)
    lot: str  # printed lot line, e.g. "LOT 2411-B07"
    expected_lot: str  # the batch this station expects, e.g. "2411-B07"
    font: str
    seed: int
    extras: dict = field(default_factory=dict, compare=False)

    @property
    def printed_lines(self) -> list[str]:
        return [line for line in (self.serial, self.lot) if line]


def random_lot(rng: np.random.Generator) -> str:
    week = f"{rng.integers(22, 27):02d}{rng.integers(1, 53):02d}"
    return f"{week}-{'ABCDEFGH'[rng.integers(0, 8)]}{rng.integers(1, 20):02d}"


def _corrupt_serial(serial: str, rng: np.random.Generator) -> str:
    """A serial that fails: wrong length, a letter among the digits, or a missing dash."""
    digits = serial[3:]
    choice = rng.integers(0, 4)
    if choice == 0:
        return "SN-" + digits[:-1]  # 6 digits
    if choice == 1:
        return "SN-" + digits + str(rng.integers(0, 10))  # 8 digits
    if choice == 2:
        i = int(rng.integers(0, 7))
        return "SN-" + digits[:i] + "ABCDEFHKXZ"[rng.integers(0, 10)] + digits[i + 1 :]
    return "SN" + digits


def random_spec(
    rng: np.random.Generator, cls: str | None = None, expected_lot: str | None = None, fonts: list[str] | None = None
) -> PartSpec:
    """Draw a part: class (40% ok, 15% each defect unless given), codes, defect kind and severity."""
    if cls is None:
        cls = str(rng.choice(CLASSES, p=[0.40, 0.15, 0.15, 0.15, 0.15]))
    defect = str(rng.choice(DEFECTS[cls]))
    expected_lot = expected_lot or random_lot(rng)
    payload = f"{rng.integers(0, 10**6):06d}"
    serial = make_serial(payload)
    lot = f"LOT {expected_lot}"
    if defect == "bad_check":
        wrong = str((int(luhn_digit(payload)) + rng.integers(1, 10)) % 10)
        serial = f"SN-{payload}{wrong}"
    elif defect == "other_batch":
        other = random_lot(rng)
        while other == expected_lot:
            other = random_lot(rng)
        lot = f"LOT {other}"
    elif defect == "malformed":
        if rng.random() < 0.6:
            serial = _corrupt_serial(serial, rng)
        else:
            lot = f"LOT {expected_lot.replace('-', '')}" if rng.random() < 0.5 else f"LOT {expected_lot[:-1]}"
    if cls == "label_missing":
        serial, lot = "", ""
    fonts = fonts or available_fonts()
    return PartSpec(
        cls=cls,
        defect=defect,
        severity=float(rng.uniform(0.0, 1.0)),
        serial=serial,
        lot=lot,
        expected_lot=expected_lot,
        font=str(fonts[rng.integers(0, len(fonts))]),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


# ---- the part, upright ----------------------------------------------------------------------------------


def _plate(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Brushed-metal plate with rounded corners and four screw holes: (BGR float32, alpha float32)."""
    base = rng.uniform(140, 195)
    tint = rng.uniform(-8, 8, size=3)
    brushed = cv2.GaussianBlur(rng.normal(0, 9, (PART_H, PART_W)).astype(np.float32), (31, 1), 0)
    plate = np.empty((PART_H, PART_W, 3), np.float32)
    for c in range(3):
        plate[..., c] = base + tint[c] + brushed
    alpha = np.zeros((PART_H, PART_W), np.uint8)
    r = 14
    cv2.rectangle(alpha, (r, 0), (PART_W - 1 - r, PART_H - 1), 255, -1)
    cv2.rectangle(alpha, (0, r), (PART_W - 1, PART_H - 1 - r), 255, -1)
    for cx, cy in ((r, r), (PART_W - 1 - r, r), (r, PART_H - 1 - r), (PART_W - 1 - r, PART_H - 1 - r)):
        cv2.circle(alpha, (cx, cy), r, 255, -1)
    for cx, cy in ((12, 12), (PART_W - 13, 12), (12, PART_H - 13), (PART_W - 13, PART_H - 13)):
        cv2.circle(plate, (cx, cy), 5, (55, 55, 58), -1)
        cv2.circle(plate, (cx - 1, cy - 1), 2, (120, 120, 125), -1)
    cv2.rectangle(plate, (2, 2), (PART_W - 3, PART_H - 3), (base + 25,) * 3, 1)  # bevel highlight
    return plate, alpha.astype(np.float32) / 255.0


def _print_label(spec: PartSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sticker with the two printed lines: (paper gray float32, ink coverage float32 0..1)."""
    x0, y0, x1, y1 = LABEL_BOX
    w, h = x1 - x0, y1 - y0
    paper = np.full((h, w), rng.uniform(228, 250), np.float32)
    ink = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(ink)
    sizes = (int(rng.integers(23, 28)), int(rng.integers(19, 24)))
    y = int(rng.integers(6, 12))
    boxes: list[tuple[int, int, int, int]] = []
    for line, size in zip(spec.printed_lines, sizes):
        font = _font(spec.font, size)
        left, top, right, bottom = draw.textbbox((0, 0), line, font=font)
        while right - left > w - 12 and size > 12:  # wide fonts: shrink until the line fits the sticker
            size -= 1
            font = _font(spec.font, size)
            left, top, right, bottom = draw.textbbox((0, 0), line, font=font)
        x = int(rng.integers(6, max(7, w - (right - left) - 6)))
        draw.text((x - left, y - top), line, fill=255, font=font)
        boxes.append((x, y, x + right - left, y + bottom - top))
        y += (bottom - top) + int(rng.integers(12, 18))
    coverage = np.asarray(ink, np.float32) / 255.0
    spec.extras["line_boxes"] = boxes  # label coordinates of each printed line, for the OCR noise model
    return paper, coverage


def _print_defect(coverage: np.ndarray, spec: PartSpec, rng: np.random.Generator) -> np.ndarray:
    """Smudge (smeared ink), faded (pale ink) or partial (a missing part of a line) print."""
    s = 0.25 + 0.75 * spec.severity
    h, w = coverage.shape
    if spec.defect == "smudge":
        length = int(5 + 14 * s) | 1
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(-25, 25)
        cv2.line(kernel, (0, length // 2), (length - 1, length // 2), 1.0, 1)
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        kernel /= max(kernel.sum(), 1e-6)
        smeared = np.clip(cv2.filter2D(coverage, -1, kernel) * 1.6, 0, 1)
        region = np.zeros_like(coverage)
        cx, cy = rng.uniform(0.2 * w, 0.8 * w), rng.uniform(0.2 * h, 0.8 * h)
        radii = (int(20 + 50 * s), int(12 + 20 * s))
        cv2.ellipse(region, (int(cx), int(cy)), radii, 0, 0, 360, 1.0, -1)
        spec.extras["smudge"] = (float(cx), float(cy), *radii)
        region = cv2.GaussianBlur(region, (0, 0), 6)
        return coverage * (1 - region) + smeared * region
    if spec.defect == "faded":
        return coverage * (0.55 - 0.4 * s) if rng.random() < 0.5 else coverage * np.linspace(
            1.0, 0.5 - 0.4 * s, w, dtype=np.float32
        )[None, :]
    # partial: the right end of one line, or every other band of rows (clogged printhead nozzles)
    out = coverage.copy()
    if rng.random() < 0.55:
        rows = slice(0, h // 2) if rng.random() < 0.5 else slice(h // 2, h)
        cut = int(w * (0.85 - 0.45 * s))
        out[rows, cut:] = 0
        spec.extras["cut"] = (rows.start, rows.stop, cut)
    else:
        band = max(2, int(2 + 3 * s))
        for y in range(int(rng.integers(0, band)), h, 2 * band):
            out[y : y + band] *= 0.15
        spec.extras["bands"] = band
    return out


def _surface_defect(part: np.ndarray, spec: PartSpec, rng: np.random.Generator) -> None:
    """Scratch, dent or stain painted onto the part (in place); severity sets contrast and size."""
    s = 0.15 + 0.85 * spec.severity
    if spec.defect == "scratch":
        for _ in range(int(rng.integers(1, 3))):
            x0, y0 = rng.uniform(20, PART_W - 20), rng.uniform(15, PART_H - 15)
            angle, length = rng.uniform(0, np.pi), rng.uniform(50, 170)
            x1, y1 = x0 + length * np.cos(angle), y0 + length * np.sin(angle)
            mask = np.zeros(part.shape[:2], np.float32)
            cv2.line(mask, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, int(rng.integers(1, 3)), cv2.LINE_AA)
            sign = 1 if rng.random() < 0.5 else -1
            part += (sign * (30 + 80 * s) * mask)[..., None]
    elif spec.defect == "dent":
        cx, cy = rng.uniform(30, PART_W - 30), rng.uniform(25, PART_H - 25)
        radius = rng.uniform(12, 30)
        yy, xx = np.mgrid[0:PART_H, 0:PART_W].astype(np.float32)
        dx, dy = (xx - cx) / radius, (yy - cy) / radius
        bowl = np.exp(-(dx**2 + dy**2))
        shade = (dx + dy) * bowl  # lit from the top left: one rim bright, the other dark
        part += ((25 + 70 * s) * shade - 10 * s * bowl)[..., None]
    else:  # stain: a soft, brownish, irregular blob
        mask = np.zeros(part.shape[:2], np.float32)
        cx, cy = rng.uniform(30, PART_W - 30), rng.uniform(25, PART_H - 25)
        for _ in range(int(rng.integers(3, 7))):
            ox, oy = rng.normal(0, 10, 2)
            ax, ay = rng.uniform(6, 10 + 18 * s, 2)
            cv2.ellipse(mask, (int(cx + ox), int(cy + oy)), (int(ax), int(ay)), rng.uniform(0, 180), 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 3)
        color = np.array([70, 45, 25], np.float32) * (0.5 + s)  # BGR: loses most blue, i.e. brownish
        part -= mask[..., None] * color[None, None, :]


def render_part(spec: PartSpec) -> tuple[np.ndarray, np.ndarray]:
    """The part upright at PART_W x PART_H: (BGR uint8, alpha float32 0..1). Deterministic in spec.seed."""
    rng = np.random.default_rng(spec.seed)
    part, alpha = _plate(rng)
    x0, y0, x1, y1 = LABEL_BOX
    if spec.cls == "label_missing" and spec.defect == "bare":
        pass
    elif spec.cls == "label_missing" and spec.defect == "residue":
        part[y0:y1, x0:x1] -= rng.uniform(6, 18)  # glue left where the sticker came off
        part[y0:y1, x0:x1] += cv2.GaussianBlur(rng.normal(0, 6, (y1 - y0, x1 - x0)).astype(np.float32), (0, 0), 2)[
            ..., None
        ]
    else:
        paper, coverage = _print_label(spec, rng)
        if spec.cls == "print_defect":
            coverage = _print_defect(coverage, spec, rng)
        ink_level = rng.uniform(15, 45)
        label = paper * (1 - coverage) + ink_level * coverage
        part[y0:y1, x0:x1] = label[..., None]
        cv2.rectangle(part, (x0, y0), (x1 - 1, y1 - 1), (200, 200, 200), 1)
    if spec.cls == "surface_defect":
        _surface_defect(part, spec, rng)
    return np.clip(part, 0, 255).astype(np.uint8), alpha


# ---- scene, pose and light ------------------------------------------------------------------------------


def conveyor_background(width: int, height: int, rng: np.random.Generator, phase: float = 0.0) -> np.ndarray:
    """Dark belt with faint texture and cleats, rails at the top and bottom; `phase` (pixels) moves the belt."""
    belt_level = rng.uniform(45, 75) if phase == 0.0 else 60.0
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :] - phase
    texture = 4.0 * np.sin(x * 0.21) * np.sin(y * 0.13) + 3.0 * np.sin((x + 2 * y) * 0.05)
    cleats = 10.0 * (np.mod(x, 160.0) < 6)
    gray = belt_level + texture + cleats
    bg = np.repeat(gray[..., None], 3, axis=2)
    rail = max(8, height // 16)
    bg[:rail] = (95, 100, 105)
    bg[-rail:] = (95, 100, 105)
    return np.clip(bg, 0, 255).astype(np.uint8)


def place_part(
    background: np.ndarray, part: np.ndarray, alpha: np.ndarray, center: tuple[float, float], angle: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Composite the part onto the background rotated by `angle` degrees: (frame, 4x2 part corners)."""
    h, w = background.shape[:2]
    matrix = cv2.getRotationMatrix2D((PART_W / 2, PART_H / 2), angle, scale)
    matrix[:, 2] += np.array(center) - np.array([PART_W / 2, PART_H / 2])
    warped = cv2.warpAffine(part, matrix, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    shadow = cv2.GaussianBlur(np.roll(mask[..., 0], (6, 6), axis=(0, 1)), (0, 0), 5)[..., None]
    frame = background.astype(np.float32) * (1 - 0.45 * shadow)
    frame = frame * (1 - mask) + warped.astype(np.float32) * mask
    corners = np.array([[0, 0], [PART_W, 0], [PART_W, PART_H], [0, PART_H]], np.float32)
    corners = corners @ matrix[:, :2].T + matrix[:, 2]
    return np.clip(frame, 0, 255).astype(np.uint8), corners


def apply_light(frame: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Gain, a lighting gradient, blur, sensor noise and JPEG-like blockiness, scaled by `strength`."""
    h, w = frame.shape[:2]
    out = frame.astype(np.float32)
    gain = 1.0 + strength * rng.uniform(-0.3, 0.25)
    gx, gy = rng.uniform(-1, 1, 2) * strength * 0.25
    ramp = 1.0 + gx * np.linspace(-1, 1, w, dtype=np.float32)[None, :] + gy * np.linspace(-1, 1, h, dtype=np.float32)[
        :, None
    ]
    out = out * (gain * ramp)[..., None]
    sigma = strength * rng.uniform(0.0, 1.1)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(1.0 + strength * rng.uniform(0, 5))
    out = np.clip(out, 0, 255).astype(np.uint8)
    if strength > 0 and rng.random() < 0.5:
        _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def render_scene(
    spec: PartSpec, size: tuple[int, int] = (400, 300), pose_jitter: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One still of the part on the belt under a random pose and light: (frame, background, corners).

    The background (same light, no part) is returned too so a detector can be run exactly as at the station,
    where it learns the empty belt.
    """
    rng = np.random.default_rng(spec.seed ^ 0x5EED)
    width, height = size
    background = conveyor_background(width, height, rng)
    part, alpha = render_part(spec)
    center = (width / 2 + rng.uniform(-30, 30) * pose_jitter, height / 2 + rng.uniform(-20, 20) * pose_jitter)
    angle = rng.uniform(-12, 12) * pose_jitter
    scale = 1.0 + rng.uniform(-0.08, 0.08) * pose_jitter
    frame, corners = place_part(background, part, alpha, center, angle, scale)
    light_seed = int(rng.integers(0, 2**31 - 1))
    frame = apply_light(frame, np.random.default_rng(light_seed))
    background = apply_light(background, np.random.default_rng(light_seed))
    return frame, background, corners
