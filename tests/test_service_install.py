"""The systemd unit (systemd-analyze verify) and `edge install-service` into a staging root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import EdgeError
from edge.service.install import Installer

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "edge.service"


def fake_edge(folder: Path, shebang: str = "#!/usr/bin/python3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "edge"
    path.write_text(f"{shebang}\nprint('edge')\n")
    path.chmod(0o755)
    return path


def stage(tmp_path: Path, **kwargs) -> tuple[Installer, list[str]]:
    lines: list[str] = []
    installer = Installer(root=tmp_path / "root", edge_bin=fake_edge(tmp_path / "opt" / "bin"), out=lines.append, **kwargs)
    installer.install()
    return installer, lines


def systemd_analyze() -> str:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        message = "systemd-analyze is not installed (apt-get install systemd)"
        if os.environ.get("EDGE_REQUIRE_SYSTEMD") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def test_unit_has_the_service_contract():
    text = UNIT.read_text()
    for line in [
        "Type=notify", "WatchdogSec=", "ExecStartPre=/usr/local/bin/edge check", "ExecStart=/usr/local/bin/edge run",
        "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "StartLimitIntervalSec=", "StartLimitBurst=",
        "User=edge", "SupplementaryGroups=video audio", "StateDirectory=edge", "ConfigurationDirectory=edge",
        "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "MemoryMax=", "DeviceAllow=char-video4linux rw",
        "DeviceAllow=char-alsa rw", "EnvironmentFile=-/etc/default/edge", "StandardOutput=journal",
    ]:
        assert line in text, line


def test_installed_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = systemd_analyze()
    installer, _ = stage(tmp_path)
    unit = installer.target("/etc/systemd/system/edge.service")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    # verify exits 0 on some problems (e.g. an unknown Type=) but always prints them
    assert result.returncode == 0 and result.stdout.strip() == "" and result.stderr.strip() == "", result


def test_verify_would_catch_a_broken_unit(tmp_path):
    analyze = systemd_analyze()
    broken = tmp_path / "edge.service"
    broken.write_text(UNIT.read_text().replace("/usr/local/bin/edge", str(fake_edge(tmp_path))).replace(
        "Type=notify", "Type=notifyy"))
    result = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60, check=False)
    assert "notifyy" in result.stderr


def test_install_into_a_staging_root(tmp_path):
    installer, lines = stage(tmp_path, prefix="/opt/edge")
    root = tmp_path / "root"
    unit = (root / "etc/systemd/system/edge.service").read_text()
    assert f"ExecStart={installer.edge_bin} run" in unit and f"ExecStartPre={installer.edge_bin} check" in unit
    config_file = root / "etc/edge/config.yaml"
    config = load_config(config_file, env={})
    assert str(config.models.dir) == "/opt/edge/share/edge/models"
    assert (root / "opt/edge/share/edge/models/manifest.yaml").read_bytes() == (REPO / "models/manifest.yaml").read_bytes()
    assert oct(config_file.stat().st_mode & 0o777) == "0o640"
    assert (root / "etc/default/edge").is_file()
    assert oct((root / "var/lib/edge").stat().st_mode & 0o777) == "0o750"
    assert any(line.startswith("user: create it on the target system: useradd --system") for line in lines)
    assert any("systemctl enable --now edge" in line for line in lines)

    config_file.write_text("camera: {source: 2}\n")  # an operator's edit survives a re-install
    _, again = stage(tmp_path, prefix="/opt/edge")
    assert config_file.read_text() == "camera: {source: 2}\n"
    assert any(line.startswith("keep: ") and "config.yaml" in line for line in again)


def test_dry_run_changes_nothing(tmp_path):
    _, lines = stage(tmp_path, dry_run=True)
    assert not (tmp_path / "root").exists()
    assert any(line.startswith("write: ") and line.endswith("edge.service") for line in lines)


def test_user_name_and_home_folder_warning(tmp_path):
    lines: list[str] = []
    Installer(
        root=tmp_path / "root", user="vision", edge_bin=fake_edge(tmp_path / "b", "#!/home/pi/venv/bin/python"),
        out=lines.append,
    ).install()
    unit = (tmp_path / "root/etc/systemd/system/edge.service").read_text()
    assert "User=vision\n" in unit and "Group=vision\n" in unit
    assert any("WARNING: /home/pi/venv/bin/python is under a home folder" in line for line in lines)
    with pytest.raises(EdgeError, match="not a valid user name"):
        Installer(root=tmp_path / "r2", user="bad user", edge_bin=fake_edge(tmp_path / "c"))
    with pytest.raises(EdgeError, match="cannot find the `edge` executable"):
        Installer(root=tmp_path / "r3", edge_bin=tmp_path / "nowhere" / "edge")


def test_cli_subcommand(tmp_path):
    edge_bin = fake_edge(tmp_path / "bin")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "install-service", "--root", str(tmp_path / "root"), "--edge-bin", str(edge_bin),
         "--dry-run"],
        capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "edge.service" in result.stdout and "systemctl daemon-reload" in result.stdout
