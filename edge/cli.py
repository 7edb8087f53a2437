"""The `edge` command. Each subcommand is a small function; model commands live in their packages and are
imported only when used, so `edge events` does not pay for loading OCR code.

Errors: every EdgeError becomes one line on stderr and the exit code of its class (config 2, model 3,
source 4, sink 5, input 6); --verbose adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge import __version__
from edge.errors import EdgeError

log = logging.getLogger("edge")

# subcommand -> module with add_arguments(parser) and run(args) -> int
PLUGIN_COMMANDS = {
    "ocr": ("edge.ocr.cli", "read text in images (text lines found automatically, or --crop)"),
    "listen": ("edge.speech.cli", "recognise spoken commands in WAV files, or live from the microphone"),
    "record": ("edge.fusion.record", "record labelled samples for training the fusion model on your parts"),
    "install-service": ("edge.service.install", "install config, models and the systemd unit"),
}


def setup_logging(level: str = "info", verbose: bool = False) -> None:
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level.upper()), format=fmt, datefmt="%H:%M:%S", force=True
    )


def _config_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "demo", False):
        from edge.app import DEMO_CONFIG

        return DEMO_CONFIG
    return Path(args.config) if args.config else None


# ---- run ---------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from edge.app import DEMO_CONFIG, Application
    from edge.config import load_config

    path = _config_path(args)
    if args.demo and not DEMO_CONFIG.is_file():
        raise EdgeError(f"demo media missing ({DEMO_CONFIG}); reinstall edge or run tools/make_demo_media.py")
    config = load_config(path)
    setup_logging(config.log_level, args.verbose)
    app = Application(config, config_path=path, demo=args.demo)
    log.info("edge %s on %s, state in %s", __version__, config.device_id, app.state_dir)
    return app.run(max_seconds=args.max_seconds)


# ---- check -------------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from edge.check import run_checks

    results = run_checks(_config_path(args), demo=args.demo)
    worst = 0
    for ok, what in results:
        print(f"{'ok  ' if ok is True else 'FAIL'}  {what}")
        if ok is not True:
            worst = worst or ok
    print("all checks passed" if not worst else "some checks failed: see FAIL lines above", file=sys.stderr)
    return worst


# ---- devices, models, events --------------------------------------------------------------------------


def cmd_devices(args: argparse.Namespace) -> int:
    from edge.sources.devices import list_cameras, list_microphones

    cameras, mics = list_cameras(), list_microphones()
    if args.json:
        print(json.dumps({"cameras": cameras, "microphones": mics}, indent=2))
        return 0
    print("cameras:")
    for cam in cameras or [{"error": "none found (no /dev/video* devices)"}]:
        print("  " + "  ".join(f"{k}={v}" for k, v in cam.items()))
    print("microphones:")
    for mic in mics or [{"error": "none found"}]:
        print("  " + "  ".join(f"{k}={v}" for k, v in mic.items()))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.runtime import load_manifest

    config = load_config(_config_path(args))
    manifest = load_manifest(config.models.dir)
    rows = []
    for model in manifest.all_files():
        try:
            model.verify()
            state = "ok"
        except EdgeError as exc:
            state = f"BAD: {exc}"
        rows.append({
            "model": model.name, "precision": model.precision, "version": model.info.get("version", "?"),
            "file": model.path.name, "bytes": model.path.stat().st_size if model.path.exists() else 0,
            "sha256": model.sha256[:12], "state": state,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"models in {manifest.directory}")
        for r in rows or [{"model": "(none)"}]:
            print("  " + "  ".join(f"{k}={v}" for k, v in r.items()))
    return 0 if all(r["state"] == "ok" for r in rows) else 3


def cmd_events(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.sinks.store import EventStore, parse_time

    config = load_config(_config_path(args))
    path = config.state_path(config.sinks.sqlite.path, "events.db")
    store = EventStore(path, readonly=True)
    rows = store.query(since=parse_time(args.since), kind=args.kind, text=args.text, limit=args.limit)
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
        return 0
    print(f"{'time':<19}  {'kind':<10}  {'source':<8}  {'id':<32}  data")
    for row in rows:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["t_wall"]))
        data = json.dumps(row["data"], ensure_ascii=False)
        print(f"{stamp:<19}  {row['kind']:<10}  {row['source_id'] or '':<8}  {row['id']}  {data[:100]}")
    print(f"{len(rows)} events from {path}", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from edge.bench import run_bench

    report = run_bench(_config_path(args), quick=args.quick)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from edge.bench import format_report

        print(format_report(report))
    return 0


# ---- parser --------------------------------------------------------------------------------------------


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only the plugin module of `command` is imported (fast start for everything else)."""
    parser = argparse.ArgumentParser(prog="edge", description="Offline multimodal inference runtime.")
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", help="YAML config (default: $EDGE_CONFIG or /etc/edge/config.yaml)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("run", cmd_run, "run the capture loop and pipeline (the service's main loop)")
    p.add_argument("--demo", action="store_true", help="replay the bundled sample video and WAV")
    p.add_argument("--max-seconds", type=float, default=None, help="stop after N seconds")
    p = add("check", cmd_check, "validate config, model files and devices; non-zero exit on any problem")
    p.add_argument("--demo", action="store_true", help="check the demo config")
    p = add("devices", cmd_devices, "list cameras and microphones")
    p.add_argument("--json", action="store_true")
    p = add("models", cmd_models, "list installed models and verify their checksums")
    p.add_argument("--json", action="store_true")
    p.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)
    p = add("events", cmd_events, "query the local event store")
    p.add_argument("--since", help="10m, 2h, 1d, an ISO date-time, or epoch seconds")
    p.add_argument("--kind", help="only events of this kind (ocr, speech, inspection)")
    p.add_argument("--text", help="only events whose data contains this text")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    p.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)
    p = add("bench", cmd_bench, "benchmark models and pipeline stages on this machine")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    p.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)
    for name, (module_name, help_text) in PLUGIN_COMMANDS.items():
        p = add(name, _plugin_runner(module_name), help_text)
        if name == command:
            _plugin_arguments(module_name, p)
    return parser


def _plugin_arguments(module_name: str, parser: argparse.ArgumentParser) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        parser.set_defaults(plugin_error=f"this edge install lacks {module_name} ({exc})")
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        return
    module.add_arguments(parser)


def _plugin_runner(module_name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if getattr(args, "plugin_error", None):
            raise EdgeError(args.plugin_error)
        return importlib.import_module(module_name).run(args)

    return run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    if args.command != "run":
        setup_logging("warning", args.verbose)
    try:
        return args.func(args) or 0
    except EdgeError as exc:
        if args.verbose:
            log.exception("edge %s failed", args.command)
        print(f"edge {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
