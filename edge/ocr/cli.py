"""`edge ocr PATH... [--crop] [--pattern REGEX] [--precision int8|fp32] [--format tsv|json]`.

TSV: one row per readable image, in input order: `path<TAB>text<TAB>confidence`; several lines of one
image are joined with a single space, top to bottom. JSON: one object per line (JSON Lines) with the
same fields plus the individual lines. A file that cannot be read gets a one-line error on stderr, the
others are still read, and the exit code is non-zero.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from edge.errors import ConfigError, EdgeError, InputError
from edge.ocr.preprocess import MAX_IMAGE_PIXELS
from edge.ocr.reader import ImageReader, join_lines
from edge.ocr.recognizer import Recognizer

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
MAX_FILE_BYTES = 64 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    parser.add_argument("--crop", action="store_true", help="each image is one text line (skip line finding)")
    parser.add_argument("--pattern", metavar="REGEX", help=r"text must fully match, e.g. '[A-Z]{2}\d{6}'")
    parser.add_argument("--precision", choices=["int8", "fp32"], help="model precision (default: config)")
    parser.add_argument("--format", choices=["tsv", "json"], default="tsv", help="output format (default tsv)")


def expand_paths(paths: list[str]) -> Iterator[str]:
    """Files as given; folders become their image files, sorted by name, joined with the folder path."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.iterdir(), key=lambda p: p.name):
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES and not child.name.startswith("."):
                    yield str(Path(raw) / child.name)
        else:
            yield raw


def read_image_file(path: str) -> np.ndarray:
    """Decode one image or raise InputError saying what is wrong with it."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or folder; check the path")
    if not p.is_file():
        raise InputError(f"{path}: not a regular file; pass an image or a folder of images")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"{path}: empty file; pass a PNG/JPEG image")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: {size // (1 << 20)} MB is too large for a text image; crop or downscale it")
    try:
        data = np.fromfile(str(p), dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check its permissions") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not a readable image (PNG, JPEG, BMP, TIFF, WebP); convert it first")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise InputError(f"{path}: {image.shape[1]}x{image.shape[0]} pixels is too large; crop or downscale it")
    return image


def _load_reader(args: argparse.Namespace) -> ImageReader:
    from edge.config import load_config
    from edge.runtime import limit_opencv_threads, load_manifest

    config = load_config(getattr(args, "config", None))
    limit_opencv_threads(config.runtime.threads)
    if args.pattern is not None:
        try:
            re.compile(args.pattern)
        except re.error as exc:
            raise ConfigError(f"--pattern {args.pattern!r} is not a valid regular expression ({exc})") from None
    precision = args.precision or config.ocr.precision or config.runtime.precision
    manifest = load_manifest(config.models.dir)
    recognizer = Recognizer.from_manifest(manifest, precision, providers=config.runtime.providers,
                                          threads=config.runtime.threads, beam=config.ocr.beam)
    return ImageReader(recognizer, config.ocr, pattern=args.pattern)


def _emit(out: TextIO, fmt: str, path: str, lines) -> None:
    text, confidence = join_lines(lines)
    if fmt == "tsv":
        out.write(f"{path}\t{text}\t{confidence:.3f}\n")
    else:
        out.write(json.dumps({"path": path, "text": text, "confidence": round(confidence, 4),
                              "lines": [line.to_dict() for line in lines]}) + "\n")
    out.flush()


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    reader = _load_reader(args)
    failed = 0
    for path in expand_paths(args.paths):
        try:
            image = read_image_file(path)
            lines = [reader.read_line(image)] if args.crop else reader.read_image(image)
        except EdgeError as exc:
            failed += 1
            err.write(f"edge ocr: {exc}\n")
            continue
        _emit(out, args.format, path, [line for line in lines if line.text] if not args.crop else lines)
    if failed:
        err.write(f"edge ocr: {failed} file(s) failed\n")
        return InputError.exit_code
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (python -m edge.ocr.cli) for use before `edge ocr` is wired."""
    parser = argparse.ArgumentParser(prog="edge ocr", description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("-c", "--config", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except EdgeError as exc:
        print(f"edge ocr: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
