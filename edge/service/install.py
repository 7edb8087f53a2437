"""`edge install-service`: put the unit, the config and the models where the systemd service expects them.

  <root>/etc/systemd/system/edge.service     from systemd/edge.service, ExecStart pointing at this edge
  <root>/etc/edge/config.yaml                from systemd/config.example.yaml, only if absent
  <root>/etc/default/edge                    from systemd/edge.env.example, only if absent
  <root><prefix>/share/edge/models/          the models/ folder (manifest + ONNX files)
  <root>/var/lib/edge/                       the state folder, owned by the service user

and the system user the unit runs as. It never overwrites a config an operator edited, and prints the
systemctl commands instead of running them. `--root DIR` stages everything under DIR (packaging, tests),
`--dry-run` only says what it would do.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from edge.errors import EdgeError

TEMPLATE_EDGE = "/usr/local/bin/edge"
TEMPLATE_MODELS = "/usr/local/share/edge/models"
PROTECTED_HOMES = ("/home/", "/root/", "/run/user/")
STATE_DIR = "/var/lib/edge"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("/"), help="install under this folder instead of / (staging)")
    parser.add_argument("--prefix", default="/usr/local", help="models go to PREFIX/share/edge/models (default /usr/local)")
    parser.add_argument("--user", default="edge", help="system user the service runs as (created if missing)")
    parser.add_argument("--edge-bin", type=Path, default=None, help="the edge executable ExecStart= runs (default: this one)")
    parser.add_argument("--source", type=Path, default=None, help="folder holding systemd/ and models/ (default: this checkout)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")


def run(args: argparse.Namespace) -> int:
    plan = Installer(
        root=args.root, prefix=args.prefix, user=args.user, edge_bin=args.edge_bin, source=args.source,
        dry_run=args.dry_run,
    )
    plan.install()
    return 0


class Installer:
    def __init__(
        self,
        root: Path = Path("/"),
        prefix: str = "/usr/local",
        user: str = "edge",
        edge_bin: Path | None = None,
        source: Path | None = None,
        dry_run: bool = False,
        out=print,
    ) -> None:
        if not prefix.startswith("/"):
            raise EdgeError(f"--prefix {prefix!r} must be an absolute path such as /usr/local")
        if not user.replace("-", "").replace("_", "").isalnum():
            raise EdgeError(f"--user {user!r} is not a valid user name; use letters, digits, '-' or '_'")
        self.root = Path(root)
        self.staging = self.root.resolve() != Path("/")
        self.prefix = prefix.rstrip("/") or "/"
        self.user = user
        self.dry_run = dry_run
        self.out = out
        self.source = Path(source) if source else Path(__file__).resolve().parents[2]
        self.edge_bin = self._find_edge_bin(edge_bin)
        self.models_dir = f"{self.prefix}/share/edge/models"
        for needed in ("systemd/edge.service", "systemd/config.example.yaml", "models/manifest.yaml"):
            if not (self.source / needed).is_file():
                raise EdgeError(
                    f"{self.source / needed} is missing; run install-service from a source checkout of edge "
                    "(git clone ...; pip install .) or pass --source FOLDER"
                )

    # ---- what goes where ---------------------------------------------------------------------------------

    def target(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def install(self) -> None:
        if not self.staging and not self.dry_run and os.geteuid() != 0:
            raise EdgeError("installing the service needs root: run `sudo edge install-service` (or --root DIR to stage)")
        self._warn_about_protected_paths()
        self._ensure_user()
        self._write("/etc/systemd/system/edge.service", self.unit_text(), mode=0o644, overwrite=True)
        self._write("/etc/edge/config.yaml", self.config_text(), mode=0o640, overwrite=False, group=self.user)
        env_text = (self.source / "systemd" / "edge.env.example").read_text()
        self._write("/etc/default/edge", env_text, mode=0o640, overwrite=False, group=self.user)
        self._copy_models()
        self._make_state_dir()
        self._print_next_steps()

    def unit_text(self) -> str:
        text = (self.source / "systemd" / "edge.service").read_text()
        text = text.replace(TEMPLATE_EDGE, str(self.edge_bin))
        return text.replace("User=edge\n", f"User={self.user}\n").replace("Group=edge\n", f"Group={self.user}\n")

    def config_text(self) -> str:
        return (self.source / "systemd" / "config.example.yaml").read_text().replace(TEMPLATE_MODELS, self.models_dir)

    # ---- steps -------------------------------------------------------------------------------------------

    def _find_edge_bin(self, given: Path | None) -> Path:
        candidates = [given] if given else [Path(sys.argv[0]), Path(sys.executable).parent / "edge"]
        if not given and shutil.which("edge"):
            candidates.append(Path(shutil.which("edge")))
        for candidate in candidates:
            if candidate and candidate.name == "edge" and candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate.absolute()
        raise EdgeError(
            f"cannot find the `edge` executable ({given or 'not on PATH'}); pass --edge-bin /opt/edge/bin/edge"
        )

    def _warn_about_protected_paths(self) -> None:
        """ProtectHome=yes hides /home and /root from the service: an edge installed there cannot start."""
        paths = [str(self.edge_bin)]
        try:
            first_line = self.edge_bin.read_bytes()[:200].split(b"\n", 1)[0].decode(errors="replace")
            if first_line.startswith("#!"):
                paths.append(first_line[2:].strip().split()[0])
        except OSError:
            pass
        hidden = [p for p in paths if p.startswith(PROTECTED_HOMES)]
        if hidden:
            self.out(
                f"WARNING: {', '.join(hidden)} is under a home folder, which the hardened unit hides "
                "(ProtectHome=yes), so the service would fail to start. Install edge system-wide instead: "
                "sudo python3 -m venv /opt/edge && sudo /opt/edge/bin/pip install . && "
                "sudo /opt/edge/bin/edge install-service"
            )

    def _ensure_user(self) -> None:
        groups = [g for g in ("video", "audio") if _group_exists(g)]
        command = ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/edge", "--no-create-home",
                   "--shell", "/usr/sbin/nologin"] + (["--groups", ",".join(groups)] if groups else []) + [self.user]
        if self.staging:
            self.out(f"user: create it on the target system: {' '.join(command)}")
            return
        if _user_exists(self.user):
            self.out(f"user: {self.user} exists")
            return
        self.out(f"user: {' '.join(command)}")
        if not self.dry_run:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise EdgeError(f"creating user {self.user} failed: {result.stderr.strip()}; create it yourself and rerun")

    def _write(self, absolute: str, text: str, mode: int, overwrite: bool, group: str | None = None) -> None:
        path = self.target(absolute)
        if path.exists() and not overwrite:
            self.out(f"keep: {path} exists (not overwritten; compare with the example in {self.source / 'systemd'})")
            return
        if path.exists() and path.read_text() == text:
            self.out(f"same: {path}")
            return
        self.out(f"{'update' if path.exists() else 'write'}: {path}")
        if self.dry_run:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(mode)
        if group and not self.staging and _group_exists(group):
            os.chown(tmp, 0, grp.getgrnam(group).gr_gid)
        os.replace(tmp, path)

    def _copy_models(self) -> None:
        source = self.source / "models"
        dest = self.target(self.models_dir)
        files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
        self.out(f"models: {len(files)} files {source} -> {dest}")
        if self.dry_run:
            return
        for file in files:
            out = dest / file.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp")
            shutil.copyfile(file, tmp)
            tmp.chmod(0o644)
            os.replace(tmp, out)  # a running service never sees a half-copied model

    def _make_state_dir(self) -> None:
        """/var/lib/edge owned by the service user, so `edge check` and `edge events` work before the first
        start (systemd's StateDirectory= keeps it that way afterwards)."""
        path = self.target(STATE_DIR)
        self.out(f"state: {path}")
        if self.dry_run:
            return
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o750)
        if not self.staging and _user_exists(self.user):
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _print_next_steps(self) -> None:
        where = f" (staged under {self.root}; copy to the target system first)" if self.staging else ""
        self.out(
            f"\nnext{where}:\n"
            "  sudoedit /etc/edge/config.yaml /etc/default/edge   # camera, microphone, broker, device id\n"
            f"  sudo -u {self.user} {self.edge_bin} check -c /etc/edge/config.yaml\n"
            "  sudo systemctl daemon-reload\n"
            "  sudo systemctl enable --now edge\n"
            "  systemctl status edge; journalctl -u edge -f\n"
            "  sudo systemctl reload edge   # after changing the config or the models"
        )


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False
