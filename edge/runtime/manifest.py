"""models/manifest.yaml: which model files exist, their sha256, metadata and measured accuracy.

The runtime refuses a file whose checksum does not match the manifest: models are updated in the field by
copying files, and a half-copied or swapped file must be caught before it produces wrong records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edge.errors import ModelError

MANIFEST_NAME = "manifest.yaml"
PRECISIONS = ("int8", "fp32")


def default_models_dir() -> Path:
    """The `models/` folder beside the package (source checkout or editable install)."""
    return Path(__file__).resolve().parents[2] / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelFile:
    name: str
    precision: str
    path: Path
    sha256: str
    info: dict[str, Any] = field(default_factory=dict)  # the model's whole manifest entry

    def verify(self) -> None:
        """Raise ModelError unless the file exists and its sha256 matches the manifest."""
        if not self.path.is_file():
            raise ModelError(
                f"model file {self.path} (model '{self.name}', {self.precision}) is missing; "
                "copy it next to models/manifest.yaml or fix `models.dir` in the config"
            )
        actual = sha256_of(self.path)
        if actual != self.sha256:
            raise ModelError(
                f"model file {self.path} has sha256 {actual[:12]}..., manifest says {self.sha256[:12]}...: "
                "the file is truncated, corrupt or from another release; copy the matching file and manifest again"
            )


@dataclass(frozen=True)
class Manifest:
    directory: Path
    models: dict[str, dict[str, Any]]

    def names(self) -> list[str]:
        return sorted(self.models)

    def all_files(self) -> list[ModelFile]:
        """Every (model, precision) file the manifest lists, in name order."""
        return [self.file(name, precision) for name in self.names() for precision in self.models[name].get("files", {})]

    def has(self, name: str, precision: str = "int8") -> bool:
        return precision in self.models.get(name, {}).get("files", {})

    def file(self, name: str, precision: str = "int8") -> ModelFile:
        if name not in self.models:
            raise ModelError(
                f"model '{name}' is not listed in {self.directory / MANIFEST_NAME}; "
                f"listed: {', '.join(self.names()) or 'none'}. Train/export it (see README) or disable its stage"
            )
        files = self.models[name].get("files", {})
        if precision not in files:
            raise ModelError(
                f"model '{name}' has no {precision} file in the manifest (has: {', '.join(files) or 'none'}); "
                "choose another precision"
            )
        entry = files[precision]
        return ModelFile(
            name=name,
            precision=precision,
            path=self.directory / entry["file"],
            sha256=str(entry["sha256"]).lower(),
            info=self.models[name],
        )


def load_manifest(directory: Path | None = None) -> Manifest:
    """Read `<directory>/manifest.yaml`; a missing or malformed manifest is a ModelError."""
    directory = Path(directory) if directory else default_models_dir()
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"no model manifest at {path}; point `models.dir` at the folder holding manifest.yaml")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"model manifest {path} is not valid YAML ({exc}); restore it from the release") from exc
    models = doc.get("models") or {}
    if not isinstance(models, dict):
        raise ModelError(f"model manifest {path}: `models` must be a mapping of model name to entry")
    for name, entry in models.items():
        files = (entry or {}).get("files") or {}
        for precision, spec in files.items():
            if precision not in PRECISIONS or not isinstance(spec, dict) or not {"file", "sha256"} <= set(spec):
                raise ModelError(
                    f"model manifest {path}: models.{name}.files.{precision} needs `file` and `sha256` "
                    f"(precision one of {', '.join(PRECISIONS)})"
                )
    return Manifest(directory=directory, models=models)


def update_manifest_entry(directory: Path, name: str, entry: dict[str, Any]) -> None:
    """Replace one model's entry (used by tools/*/export.py and quantize.py), keeping the others."""
    path = Path(directory) / MANIFEST_NAME
    doc = yaml.safe_load(path.read_text()) if path.is_file() else None
    doc = doc or {"schema": 1, "models": {}}
    doc.setdefault("models", {})
    old = doc["models"].get(name) or {}
    merged = {**old, **entry}
    if "files" in old and "files" in entry:
        merged["files"] = {**old["files"], **entry["files"]}
    doc["models"][name] = merged
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110))
