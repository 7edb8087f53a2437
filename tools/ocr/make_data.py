"""Synthetic text-line generator for the CRNN: installed Debian fonts, 7-segment, dot-matrix, plates, degradations.

Content mimics what inspection stations and field kits read (serials, lot codes, dates, numbers with units,
words, receipt lines, plates, meter readings). Some font families and one dot-matrix style never appear in
training ("held-out") so the synthetic test measures generalisation to unseen fonts.

    python tools/ocr/make_data.py --split train --count 60000 --out work/ocr/data/train.npz
    python tools/ocr/make_data.py --split heldout --count 2000 --out work/ocr/data/heldout.npz
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from edge.ocr.charset import CHARSET
from edge.ocr.preprocess import normalize_line

FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
# Symbol, script and math fonts cannot draw our charset legibly.
EXCLUDED = ("D050000L", "StandardSymbolsPS", "Z003", "DejaVuMathTeXGyre", "DSEGWeather", "ExtraLight")
# Families kept out of training: the held-out synthetic set uses only these (plus the square-dot matrix).
HELDOUT_FAMILIES = ("Tinos", "URWGothic", "FreeMono", "DSEG14Modern", "DSEG7Modern-", "Carlito")

WORDS = """total cash change tax gst amount qty price item invoice receipt date time cashier table bill
subtotal rounding discount member card visa master net gross weight batch lot serial part model made in
expiry best before use by manufactured pressure voltage current power temperature flow level meter reading
inspection pass fail station operator check label product code number order ship to from sold road street
jalan taman city state phone fax email thank you please come again welcome store market trading enterprise
company limited sdn bhd bakery hardware food drink coffee rice chicken water bottle paper box bag steel
plastic valve pump motor filter sensor cable battery output input warning danger caution high low open close
alpha beta delta gamma north south east west service center unit floor block level lane avenue plaza""".split()  # noqa: SIM905 (a readable word list)
UNITS = ("kg", "g", "mg", "V", "A", "mA", "W", "kW", "Hz", "kPa", "bar", "psi", "C", "mm", "cm", "m", "L",
         "ml", "%", "rpm", "h", "s", "pcs", "KG", "KWH", "kWh")
STATES = ("ALASKA", "Connecticut", "IDAHO", "Massachusetts", "NEW JERSEY", "Oregon", "VIRGINIA", "Texas",
          "CALIFORNIA", "Florida", "OHIO", "Georgia", "Michigan", "ILLINOIS", "Nevada", "Arizona", "Utah")
SLOGANS = ("Garden State", "Famous Potatoes", "Sunshine State", "Land of Lincoln", "Live Free or Die",
           "Great Lakes", "Constitution State", "Grand Canyon State", "Silver State", "Preserve the Trust")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


# ---------------------------------------------------------------- fonts
def list_fonts() -> list[Path]:
    paths = []
    for root in FONT_DIRS:
        for path in sorted(Path(root).rglob("*")):
            if path.suffix.lower() in (".ttf", ".otf") and not any(x in path.name for x in EXCLUDED):
                paths.append(path)
    return paths


def split_fonts(split: str) -> dict[str, list[Path]]:
    """Fonts by kind ('text', 'seg7', 'seg14') for one split."""
    kinds: dict[str, list[Path]] = {"text": [], "seg7": [], "seg14": [], "narrow": []}
    for path in list_fonts():
        held = any(path.name.startswith(f) for f in HELDOUT_FAMILIES)
        if held != (split == "heldout"):
            continue
        if path.name.startswith("DSEG7"):
            kinds["seg7"].append(path)
        elif path.name.startswith("DSEG14"):
            kinds["seg14"].append(path)
        else:
            kinds["text"].append(path)
            if any(x in path.name for x in ("Narrow", "Condensed", "Bold", "Sans")) and "Mono" not in path.name:
                kinds["narrow"].append(path)
    if not kinds["narrow"]:
        kinds["narrow"] = kinds["text"]
    return kinds


_FONT_CACHE: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    key = (str(path), size)
    if key not in _FONT_CACHE:
        _FONT_CACHE[key] = ImageFont.truetype(str(path), size)
    return _FONT_CACHE[key]


# ---------------------------------------------------------------- content
def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def serial(rng: random.Random) -> str:
    pattern = rng.choice(["AA000000", "A0000000", "AAA-00000", "00-000-0000", "SN A0000000", "S/N: 000000000",
                          "AA00A0000", "0000-AAAA-00", "PN 00000-000", "#00000", "REF 0000.000"])
    return "".join(rng.choice(string.ascii_uppercase) if c == "A" else rng.choice(string.digits) if c == "0" else c
                   for c in pattern)


def lot_code(rng: random.Random) -> str:
    prefix = rng.choice(["LOT", "Lot", "LOT:", "L", "BATCH", "Batch:", "B/N", "LOT NO."])
    return f"{prefix} {_chars(rng, string.ascii_uppercase + string.digits, rng.randint(4, 9))}"


def date_text(rng: random.Random) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2015, 2032)
    fmt = rng.choice([f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y % 100:02d}",
                      f"{d:02d} {MONTHS[m - 1]} {y}", f"EXP {m:02d}/{y % 100:02d}", f"{d:02d}-{m:02d}-{y}",
                      f"BEST BEFORE {d:02d}.{m:02d}.{y}",
                      f"{d:02d}/{m:02d}/{y} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                      f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} {rng.choice(['AM', 'PM'])}"])
    return fmt


def number_unit(rng: random.Random) -> str:
    value = rng.choice([f"{rng.uniform(0, 999):.{rng.randint(0, 3)}f}", str(rng.randint(0, 99999)),
                        f"-{rng.uniform(0, 99):.1f}", f"+{rng.uniform(0, 99):.2f}"])
    sep = rng.choice(["", " "])
    return f"{value}{sep}{rng.choice(UNITS)}"


def word_line(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
    style = rng.random()
    words = [w.upper() for w in words] if style < 0.45 else [w.capitalize() for w in words] if style < 0.75 else words
    return " ".join(words)


def price(rng: random.Random) -> str:
    amount = f"{rng.uniform(0, 500):.2f}"
    return rng.choice([amount, f"RM{amount}", f"RM {amount}", f"${amount}", f"{amount} SR", f"-{amount}",
                       f"{rng.randint(1, 9)} x {amount}", f"{rng.randint(0, 25)}%", f"({amount})"])


def receipt_line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return f"{word_line(rng)} {price(rng)}"
    if kind < 0.5:
        return f"{rng.choice(['GST ID', 'GST REG NO', 'CO. REG', 'INVOICE NO', 'TEL', 'DOC NO'])}" \
               f"{rng.choice([': ', ':', ' ', ' : '])}{_chars(rng, string.digits, rng.randint(6, 12))}"
    if kind < 0.7:
        return f"NO.{rng.randint(1, 99)}, JALAN {rng.choice(WORDS).upper()} {rng.randint(1, 9)}/{rng.randint(1, 9)},"
    if kind < 0.85:
        return f"({_chars(rng, string.digits, rng.randint(5, 7))}-{rng.choice(string.ascii_uppercase)})"
    return f"{rng.randint(1, 99)} {rng.choice(WORDS).upper()} @ {price(rng)} & {rng.choice(['*', '#', '!'])}"


def plate_text(rng: random.Random) -> str:
    pattern = rng.choice(["AAA000", "000AAA", "AAA0000", "0AAA000", "A00AAA", "00A000", "AA00000", "AAAA00"])
    return "".join(rng.choice(string.ascii_uppercase) if c == "A" else rng.choice(string.digits) for c in pattern)


def meter_reading(rng: random.Random) -> str:
    return rng.choice([f"{rng.uniform(0, 9999):.{rng.randint(0, 3)}f}", f"{rng.randint(0, 99999999):08d}",
                       f"-{rng.uniform(0, 99):.1f}", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"])


def mixed(rng: random.Random) -> str:
    return _chars(rng, CHARSET.strip() + "  ", rng.randint(3, 14)).strip() or "0"


CONTENT = [(serial, 3), (lot_code, 2), (date_text, 2), (number_unit, 2), (word_line, 3), (price, 2),
           (receipt_line, 4), (plate_text, 1), (meter_reading, 1), (mixed, 1)]


def pick_text(rng: random.Random) -> str:
    funcs, weights = zip(*CONTENT)
    text = rng.choices(funcs, weights)[0](rng)
    if rng.random() < 0.1:
        text = text.lower()
    return "".join(c for c in text if c in CHARSET).strip() or "0"


# ---------------------------------------------------------------- rendering
def render_text(text: str, font_path: Path, size: int, fg: int, bg: int, rng: random.Random,
                spacing: float = 0.0) -> np.ndarray:
    """Plain rendering with a FreeType font (optional extra letter spacing)."""
    f = font(font_path, size)
    if spacing <= 0:
        x0, y0, x1, y1 = f.getbbox(text)
        canvas = Image.new("L", (x1 - min(x0, 0) + 4, y1 - min(y0, 0) + 4), bg)
        ImageDraw.Draw(canvas).text((2 - min(x0, 0), 2 - min(y0, 0)), text, font=f, fill=fg)
        return np.asarray(canvas)
    widths = [f.getlength(c) for c in text]
    total = int(sum(widths) + spacing * size * len(text)) + 8
    x0, y0, x1, y1 = f.getbbox("Ag0" + text)
    canvas = Image.new("L", (total, y1 - min(y0, 0) + 4), bg)
    draw = ImageDraw.Draw(canvas)
    x = 2.0
    for c, w in zip(text, widths):
        draw.text((x, 2 - min(y0, 0)), c, font=f, fill=fg)
        x += w + spacing * size
    return np.asarray(canvas)


def render_seven_segment(text: str, font_path: Path, size: int, fg: int, bg: int, rng: random.Random) -> np.ndarray:
    """DSEG digits with faint unlit segments behind them, as on a real LCD."""
    ghost_char = "8" if "DSEG7" in font_path.name else "~"
    ghost = "".join(ghost_char if c not in " .:" else c for c in text)
    f = font(font_path, size)
    _x0, y0, _x1, y1 = f.getbbox(ghost + text)
    width = int(max(f.getlength(ghost), f.getlength(text))) + 8
    canvas = Image.new("L", (width, y1 - min(y0, 0) + 6), bg)
    draw = ImageDraw.Draw(canvas)
    if rng.random() < 0.6:
        faint = int(bg + (fg - bg) * rng.uniform(0.06, 0.2))
        draw.text((4, 3 - min(y0, 0)), ghost, font=f, fill=faint)
    draw.text((4, 3 - min(y0, 0)), text, font=f, fill=fg)
    return np.asarray(canvas)


def render_dot_matrix(text: str, font_path: Path, fg: int, bg: int, rng: random.Random,
                      square: bool = False) -> np.ndarray:
    """Dot-matrix / ink-jet print: a tiny bitmap rendering whose pixels become separate dots."""
    cell_font = font(font_path, rng.choice([9, 10, 11]))
    x0, y0, x1, y1 = cell_font.getbbox(text)
    small = Image.new("L", (x1 - min(x0, 0) + 2, y1 - min(y0, 0) + 2), 0)
    ImageDraw.Draw(small).text((1 - min(x0, 0), 1 - min(y0, 0)), text, font=cell_font, fill=255)
    bits = np.asarray(small) > rng.choice([90, 128, 160])
    pitch = rng.choice([4, 5, 6])
    radius = max(1, int(pitch * rng.uniform(0.3, 0.48)))
    out = np.full((bits.shape[0] * pitch + pitch, bits.shape[1] * pitch + pitch), bg, np.uint8)
    jitter = 0.0 if rng.random() < 0.5 else pitch * 0.2  # ink-jet: dots wander a little
    for yy, xx in zip(*np.nonzero(bits)):
        cx = int(xx * pitch + pitch / 2 + rng.uniform(-jitter, jitter))
        cy = int(yy * pitch + pitch / 2 + rng.uniform(-jitter, jitter))
        if square:
            cv2.rectangle(out, (cx - radius, cy - radius), (cx + radius, cy + radius), int(fg), -1)
        else:
            cv2.circle(out, (cx, cy), radius, int(fg), -1, lineType=cv2.LINE_AA)
    return out


def render_plate(text: str, fonts: dict[str, list[Path]], rng: random.Random) -> np.ndarray:
    """A US-plate-like crop: big registration, small state name above and slogan below (not in the label)."""
    h, w = rng.randint(120, 170), rng.randint(240, 330)
    bg = rng.randint(150, 250)
    fg = rng.randint(0, 90)
    img = Image.new("L", (w, h), bg)
    draw = ImageDraw.Draw(img)
    big = font(rng.choice(fonts["narrow"]), int(h * rng.uniform(0.38, 0.5)))
    shown = text if rng.random() < 0.6 else text[:3] + rng.choice([" ", "-", "·", " "]) + text[3:]
    shown = shown.replace("·", "-")
    tw = big.getlength(shown)
    if tw > w * 0.92:
        big = font(big.path, max(12, int(big.size * w * 0.9 / tw)))
        tw = big.getlength(shown)
    _bx0, by0, _bx1, by1 = big.getbbox(shown)
    top = (h - (by1 - by0)) // 2 - by0 + rng.randint(-4, 6)
    draw.text(((w - tw) / 2, top), shown, font=big, fill=fg)
    small = font(rng.choice(fonts["text"]), int(h * rng.uniform(0.1, 0.17)))
    state = rng.choice(STATES)
    draw.text(((w - small.getlength(state)) / 2, h * 0.03), state, font=small, fill=rng.randint(0, 120))
    if rng.random() < 0.7:
        slogan = rng.choice(SLOGANS)
        draw.text(((w - small.getlength(slogan)) / 2, h * 0.8), slogan, font=small, fill=rng.randint(0, 120))
    if rng.random() < 0.5:  # a sticker in a corner
        sx, sy = rng.choice([(6, 6), (w - 40, 6), (6, h - 30), (w - 40, h - 30)])
        draw.rectangle((sx, sy, sx + 32, sy + 22), fill=rng.randint(0, 255))
    return np.asarray(img)


# ---------------------------------------------------------------- degradations
def add_margins(img: np.ndarray, rng: random.Random, bg: int) -> np.ndarray:
    """Tight or loose crop: pad with background, or trim a little of the ink."""
    h = img.shape[0]
    mode = rng.random()
    if mode < 0.15:
        return img[max(0, int(h * 0.06)): h - max(0, int(h * 0.06))]
    t, b = (int(h * rng.uniform(0, 0.35)) for _ in range(2))
    l, r = (int(h * rng.uniform(0, 0.8)) for _ in range(2))
    return cv2.copyMakeBorder(img, t, b, l, r, cv2.BORDER_CONSTANT, value=int(bg))


def warp(img: np.ndarray, rng: random.Random, bg: int) -> np.ndarray:
    """Small rotation, shear and perspective, as from a hand-held or tilted camera."""
    h, w = img.shape
    d = h * 0.12
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + np.float32([[rng.uniform(-d, d), rng.uniform(-d, d)] for _ in range(4)])
    shear = rng.uniform(-0.25, 0.25) * h
    dst[:2, 0] += shear
    angle = np.deg2rad(rng.uniform(-3, 3))
    c, s = np.cos(angle), np.sin(angle)
    centre = np.float32([w / 2, h / 2])
    dst = (dst - centre) @ np.float32([[c, -s], [s, c]]).T + centre
    dst -= dst.min(axis=0)
    size = (int(dst[:, 0].max()) + 1, int(dst[:, 1].max()) + 1)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(img, m, size, borderMode=cv2.BORDER_CONSTANT, borderValue=int(bg))


def texture(shape: tuple[int, int], rng: random.Random) -> np.ndarray:
    """Low-frequency background texture (paper, brushed metal, cardboard)."""
    h, w = shape
    noise = np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, 1, (max(2, h // 6), max(2, w // 6)))
    noise = cv2.resize(noise.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.3:  # brushed / lined
        noise = cv2.blur(noise, (max(3, w // 8), 1))
    return noise * rng.uniform(4, 18)


def degrade(img: np.ndarray, rng: random.Random, bg: int) -> np.ndarray:
    """Blur, ink spread, lighting, contrast, noise, JPEG: what real cameras and printers do to text."""
    out = img.astype(np.float32)
    if rng.random() < 0.15:  # some lines stay clean: scanners and good cameras exist
        return img
    if rng.random() < 0.3:  # ink spread or thin print
        k = np.ones((2, 2), np.uint8)
        dark_text = out.mean() > 127
        grow = rng.random() < 0.5
        op = cv2.erode if (grow == dark_text) else cv2.dilate
        out = op(out, k)
    if rng.random() < 0.5:
        out += texture(out.shape, rng)
    if rng.random() < 0.5:  # uneven lighting: a gradient across the line
        h, w = out.shape
        gx = np.linspace(rng.uniform(-1, 1), rng.uniform(-1, 1), w, dtype=np.float32)
        gy = np.linspace(rng.uniform(-1, 1), rng.uniform(-1, 1), h, dtype=np.float32)
        out += (gy[:, None] + gx[None, :]) * rng.uniform(10, 50)
    if rng.random() < 0.3:  # low contrast
        mean = out.mean()
        out = mean + (out - mean) * rng.uniform(0.25, 0.6)
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 1.2) * out.shape[0] / 40
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if rng.random() < 0.15:  # motion blur
        k = np.zeros((1, rng.randint(3, 7)), np.float32)
        k[:] = 1 / k.size
        out = cv2.filter2D(out, -1, k)
    if rng.random() < 0.6:
        out += np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, rng.uniform(2, 10), out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:  # low resolution: shrink then enlarge
        h, w = out.shape
        f = rng.uniform(0.45, 0.85) * 40 / max(40, h)
        small = cv2.resize(out, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.4:
        _ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(15, 70)])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


# ---------------------------------------------------------------- samples
def make_sample(rng: random.Random, fonts: dict[str, list[Path]], heldout: bool) -> tuple[np.ndarray, str]:
    """One (raw grayscale image of any size, label) pair."""
    style = rng.random()
    dark_on_light = rng.random() < 0.8
    bg, fg = (rng.randint(150, 255), rng.randint(0, 100)) if dark_on_light else (rng.randint(0, 90), rng.randint(150, 255))
    if style < 0.08:
        text = plate_text(rng)
        img = render_plate(text, fonts, rng)
        bg = int(np.median(img))
    elif style < 0.18:
        text = rng.choice([meter_reading, number_unit, date_text])(rng)
        if rng.random() < 0.5:
            text = "".join(c for c in text if c in "0123456789-.: ").strip() or "0"
        seg = fonts["seg7"] if all(c in "0123456789-.: " for c in text) else fonts["seg14"]
        text = text.upper() if seg is fonts["seg14"] else text
        text = "".join(c for c in text if c in CHARSET)
        img = render_seven_segment(text, rng.choice(seg), rng.randint(28, 48), fg, bg, rng)
    elif style < 0.28:
        text = rng.choice([serial, lot_code, date_text, number_unit])(rng)
        img = render_dot_matrix(text, rng.choice(fonts["text"]), fg, bg, rng, square=heldout)
    else:
        text = pick_text(rng)
        size = rng.randint(20, 44)
        spacing = rng.uniform(0.05, 0.5) if rng.random() < 0.15 else 0.0
        img = render_text(text, rng.choice(fonts["text"]), size, fg, bg, rng, spacing)
    img = add_margins(img, rng, bg)
    if rng.random() < 0.7:
        img = warp(img, rng, bg)
    img = degrade(img, rng, bg)
    return img, text


def generate(split: str, count: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    rng = random.Random(seed)
    fonts = split_fonts(split)
    images, labels = [], []
    start = time.time()
    while len(images) < count:
        try:
            raw, text = make_sample(rng, fonts, split == "heldout")
            images.append(normalize_line(raw))
            labels.append(text)
        except Exception as exc:  # noqa: BLE001 (a font lacking a glyph etc.: skip the sample, keep going)
            print(f"skip: {exc}", file=sys.stderr)
        if len(images) % 2000 == 0 and images:
            print(f"{split}: {len(images)}/{count} ({time.time() - start:.0f}s)", flush=True)
    return images, labels


def save(path: Path, images: list[np.ndarray], labels: list[str]) -> None:
    """One flat pixel array + widths: compact and quick to load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    widths = np.array([im.shape[1] for im in images], np.int32)
    pixels = np.concatenate([im.T.ravel() for im in images])  # column-major: each image is a contiguous run
    np.savez(path, pixels=pixels, widths=widths, labels=np.array(labels, dtype=object))


def load(path: Path) -> tuple[list[np.ndarray], list[str]]:
    data = np.load(path, allow_pickle=True)
    pixels, widths, labels = data["pixels"], data["widths"], data["labels"]  # read each array once
    images, offset = [], 0
    for w in widths:
        n = int(w) * 32
        images.append(pixels[offset: offset + n].reshape(int(w), 32).T.copy())
        offset += n
    return images, [str(x) for x in labels]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["train", "heldout"], default="train")
    parser.add_argument("--count", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preview", type=Path, help="also write a PNG mosaic of the first 40 lines")
    args = parser.parse_args()
    images, labels = generate(args.split, args.count, args.seed)
    save(args.out, images, labels)
    if args.preview:
        rows = images[:40]
        width = max(r.shape[1] for r in rows)
        cv2.imwrite(str(args.preview), np.vstack([np.pad(r, ((0, 2), (0, width - r.shape[1]))) for r in rows]))
        print("\n".join(labels[:40]))
    print(f"wrote {len(images)} lines to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
