"""Model runtime: the only package that imports onnxruntime."""

from edge.runtime.manifest import (
    Manifest,
    ModelFile,
    default_models_dir,
    load_manifest,
    sha256_of,
    update_manifest_entry,
)
from edge.runtime.session import ModelSession, available_providers, read_metadata, resolve_providers
from edge.runtime.threads import limit_opencv_threads

__all__ = [
    "Manifest",
    "ModelFile",
    "ModelSession",
    "available_providers",
    "default_models_dir",
    "limit_opencv_threads",
    "load_manifest",
    "read_metadata",
    "resolve_providers",
    "sha256_of",
    "update_manifest_entry",
]
