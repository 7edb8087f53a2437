"""Write the golden set shipped with the model (models/ocr-golden/) and the test fixtures.

Lines are rendered by make_data.py with held-out fonts (never trained on) and our own text, so the set is
free to redistribute. `edge check` compares INT8 against FP32 on it.

    python tools/ocr/make_golden.py --out models/ocr-golden --count 30 --seed 7
    python tools/ocr/make_golden.py --fixtures tests/fixtures/ocr
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_data import make_sample, split_fonts

from edge.runtime import update_manifest_entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("models/ocr-golden"))
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-manifest", action="store_true")
    parser.add_argument("--fixtures", type=Path, help="write the test fixtures here instead")
    args = parser.parse_args()
    if args.fixtures:
        make_fixtures(args.fixtures)
        return 0
    rng = random.Random(args.seed)
    fonts = split_fonts("heldout")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    while len(rows) < args.count:
        image, text = make_sample(rng, fonts, heldout=True)
        if image.shape[0] > 64:  # keep the files small: golden lines at most 64 px high
            scale = 64 / image.shape[0]
            image = cv2.resize(image, (max(8, int(image.shape[1] * scale)), 64), interpolation=cv2.INTER_AREA)
        name = f"{len(rows):03d}.png"
        cv2.imwrite(str(args.out / name), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        rows.append(f"{name}\t{text}")
    (args.out / "labels.tsv").write_text("\n".join(rows) + "\n")
    print(f"wrote {len(rows)} golden lines to {args.out}")
    if not args.no_manifest:
        update_manifest_entry(args.out.parent, "ocr", {"golden": {
            "dir": args.out.name, "labels": "labels.tsv", "count": len(rows),
            "made_by": f"python tools/ocr/make_golden.py --out {args.out} --count {args.count} --seed {args.seed}",
        }})
    return 0


def make_fixtures(out: Path) -> None:
    """Tiny test fixtures (tests/fixtures/ocr/): clean line crops and one two-line label image."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    out.mkdir(parents=True, exist_ok=True)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 30)
    lines = {"line_lot.png": "LOT 4821A", "line_exp.png": "EXP 12/2027", "line_serial.png": "SN AB123456"}
    for name, text in lines.items():
        _x0, _y0, x1, y1 = font.getbbox(text)
        image = Image.new("L", (x1 + 16, y1 + 12), 235)
        ImageDraw.Draw(image).text((8, 6), text, font=font, fill=25)
        cv2.imwrite(str(out / name), cv2.GaussianBlur(np.asarray(image), (3, 3), 0.6))
    (out / "labels.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in lines.items()))
    label = Image.new("L", (420, 200), 240)
    draw = ImageDraw.Draw(label)
    draw.text((30, 40), "LOT 7734B", font=font, fill=20)
    draw.text((30, 120), "EXP 2027-05", font=font, fill=20)
    cv2.imwrite(str(out / "label_two_lines.png"), np.asarray(label))


if __name__ == "__main__":
    raise SystemExit(main())
