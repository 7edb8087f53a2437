"""The one place that talks to onnxruntime.

ModelSession = verified file + InferenceSession on the best available execution provider + checked inputs.
Provider choice is TensorRT > CUDA > CPU among those installed; when the provider used is not the one
asked for, a warning names it (no silent fallback).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edge.errors import ModelError
from edge.runtime.manifest import Manifest, ModelFile

log = logging.getLogger(__name__)

PROVIDER_ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("tensorrt", "cuda", "cpu")
_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(bool)": np.bool_,
}


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def resolve_providers(wanted: Sequence[str]) -> list[str]:
    """Map config names (auto, tensorrt, cuda, cpu) to the installed onnxruntime providers, best first."""
    installed = set(available_providers())
    names: list[str] = []
    for item in wanted:
        for alias in AUTO_ORDER if item == "auto" else (item,):
            provider = PROVIDER_ALIASES.get(alias, alias)
            if provider in installed and provider not in names:
                names.append(provider)
    if "CPUExecutionProvider" not in names:
        names.append("CPUExecutionProvider")
    return names


def read_metadata(path: Path) -> dict[str, str]:
    """metadata_props of an ONNX file (tools use this; the runtime reads them from its session and never
    imports the onnx package, which would cost ~16 MB of resident memory on a Raspberry Pi)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "not a usable model"
        raise ModelError(f"{path} is not a readable ONNX file ({exc.__class__.__name__}); copy it again") from exc
    return {p.key: p.value for p in model.metadata_props}


class ModelSession:
    """An onnxruntime session with input checks, metadata and timing."""

    def __init__(
        self,
        path: Path,
        *,
        providers: Sequence[str] = ("auto",),
        threads: int = 1,
        required_metadata: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} does not exist")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        wanted = resolve_providers(providers)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise ModelError(
                f"{self.path} is not a loadable ONNX model ({str(exc).splitlines()[0][:200]}); "
                "the file is truncated or corrupt: copy it again"
            ) from exc
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [key for key in required_metadata if key not in self.metadata]
        if missing:
            raise ModelError(
                f"{self.path} lacks metadata {', '.join(missing)}; re-export it with the tools/ export script"
            )
        self.provider = self.session.get_providers()[0]
        if self.provider != wanted[0]:
            log.warning("%s: asked for %s, running on %s", self.name, wanted[0], self.provider)
        elif list(providers) != ["cpu"] and self.provider == "CPUExecutionProvider":
            log.info("%s: running on CPUExecutionProvider", self.name)
        self.inputs = [(i.name, list(i.shape), _ORT_TYPES.get(i.type, None)) for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.calls = 0
        self.total_seconds = 0.0

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        name: str,
        precision: str = "int8",
        *,
        providers: Sequence[str] = ("auto",),
        threads: int = 1,
        required_metadata: Sequence[str] = (),
    ) -> ModelSession:
        """Verify the file's sha256 against the manifest, then load it."""
        model: ModelFile = manifest.file(name, precision)
        model.verify()
        session = cls(
            model.path, providers=providers, threads=threads, required_metadata=required_metadata, name=name
        )
        session.manifest_entry = model.info
        return session

    def check_feeds(self, feeds: dict[str, np.ndarray]) -> None:
        """Clear errors for wrong input names, ranks, fixed dimensions or dtypes."""
        expected = {name: (shape, dtype) for name, shape, dtype in self.inputs}
        unknown = set(feeds) - set(expected)
        absent = set(expected) - set(feeds)
        if unknown or absent:
            raise ModelError(
                f"{self.name}: inputs {sorted(feeds)} do not match the model's {sorted(expected)}"
            )
        for name, array in feeds.items():
            shape, dtype = expected[name]
            if dtype is not None and array.dtype != dtype:
                raise ModelError(f"{self.name}: input '{name}' must be {np.dtype(dtype).name}, got {array.dtype}")
            if len(shape) != array.ndim:
                raise ModelError(f"{self.name}: input '{name}' must have rank {len(shape)} {shape}, got {array.shape}")
            for want, got in zip(shape, array.shape):
                if isinstance(want, int) and want > 0 and want != got:
                    raise ModelError(f"{self.name}: input '{name}' must have shape {shape}, got {list(array.shape)}")

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[Any]:
        self.check_feeds(feeds)
        start = time.perf_counter()
        result = self.session.run(list(outputs) if outputs else None, feeds)
        self.total_seconds += time.perf_counter() - start
        self.calls += 1
        return result

    def warmup(self, feeds: dict[str, np.ndarray], runs: int = 1) -> None:
        """First runs allocate memory and pick kernels; do them before real frames arrive."""
        for _ in range(runs):
            self.run(feeds)
        self.calls = 0
        self.total_seconds = 0.0
