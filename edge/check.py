"""`edge check`: everything that must be right before the service starts (systemd ExecStartPre=).

Each check yields (True, description) or (exit_code, problem and fix). Nothing falls back silently: a
missing model for an enabled stage, a wrong checksum or an absent camera is a failure.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edge.config import EdgeConfig, load_config
from edge.errors import EdgeError
from edge.runtime import Manifest, ModelSession, load_manifest

Result = tuple  # (True | exit_code, message)
REQUIRED_METADATA = {"ocr": ("charset",), "speech": ("vocabulary", "sample_rate"), "fusion": ("classes",)}


def run_checks(config_path: Path | None, demo: bool = False) -> list[Result]:
    results: list[Result] = []
    try:
        config = load_config(config_path)
    except EdgeError as exc:
        return [(exc.exit_code, str(exc))]
    results.append((True, f"config {config_path or '(defaults)'} is valid"))
    results.extend(_check_state_dir(config))
    try:
        manifest = load_manifest(config.models.dir)
        results.append((True, f"model manifest {manifest.directory / 'manifest.yaml'} lists {', '.join(manifest.names()) or 'no models'}"))
        results.extend(_check_models(config, manifest, demo))
    except EdgeError as exc:
        results.append((exc.exit_code, str(exc)))
    results.extend(_check_devices(config))
    return results


def _check_state_dir(config: EdgeConfig) -> Iterator[Result]:
    state = config.resolved_state_dir()
    try:
        state.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".check-"):
            pass
        free = os.statvfs(state)
        free_mb = free.f_bavail * free.f_frsize / 1e6
        if free_mb < 50:
            yield 5, f"state dir {state} has only {free_mb:.0f} MB free; free space or move state_dir"
        else:
            yield True, f"state dir {state} is writable ({free_mb:.0f} MB free)"
    except OSError as exc:
        yield 5, f"state dir {state} is not writable ({exc.strerror}); set state_dir or EDGE_STATE_DIR"


def _check_models(config: EdgeConfig, manifest: Manifest, demo: bool) -> Iterator[Result]:
    from edge.app import stage_precision

    for name in ("ocr", "speech", "fusion"):
        precision = stage_precision(config, name)
        if not getattr(config, name).enabled:
            yield True, f"{name}: disabled in the config"
            continue
        if not manifest.has(name, precision):
            code = True if demo else 3
            yield code, f"{name}: enabled, but no {precision} model in the manifest" + (
                " (the demo runs without it)" if demo else f"; install it or set `{name}: {{enabled: false}}`"
            )
            continue
        try:
            session = ModelSession.from_manifest(
                manifest, name, precision, providers=config.runtime.providers, threads=config.runtime.threads,
                required_metadata=REQUIRED_METADATA.get(name, ()),
            )
            version = session.metadata.get("version", "?")
            yield True, f"{name}: {session.path.name} sha256 ok, loads on {session.provider}, version {version}"
        except EdgeError as exc:
            yield exc.exit_code, f"{name}: {exc}"
            continue
        if precision == "int8":
            yield from _acceptance(name, manifest, config)


def _acceptance(name: str, manifest: Manifest, config: EdgeConfig) -> Iterator[Result]:
    """Models that ship a golden set compare INT8 against FP32 (quantization can wreck a recognizer)."""
    try:
        module = importlib.import_module(f"edge.{name}.acceptance")
    except ImportError:
        return
    try:
        yield True, f"{name}: " + module.check_int8_against_fp32(manifest, config)
    except EdgeError as exc:
        yield exc.exit_code, f"{name}: {exc}"


def _check_devices(config: EdgeConfig) -> Iterator[Result]:
    from edge.sources import devices

    if config.camera.enabled:
        try:
            yield True, "camera: " + devices.check_camera(config.camera)
        except EdgeError as exc:
            yield exc.exit_code, f"camera: {exc}"
    if config.microphone.enabled and config.speech.enabled:
        try:
            yield True, "microphone: " + devices.check_microphone(config.microphone)
        except EdgeError as exc:
            yield exc.exit_code, f"microphone: {exc}"
