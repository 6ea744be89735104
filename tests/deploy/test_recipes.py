"""The deployment recipes parse and say what docs/deploy.md promises: compose runs coverwatch
and PostgreSQL with secrets from an env file and a healthcheck on /readyz; the image runs as a
non-root user with a CJK font; the systemd unit runs `coverwatch run` as its own user. The image
is built only where Docker is present."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_coverwatch_on_postgres_with_a_readyz_healthcheck() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"postgres", "migrate", "coverwatch"}
    bot = services["coverwatch"]
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])
    assert bot["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert services["migrate"]["command"] == ["init"] and bot["command"] == ["run"]
    assert bot["ports"] == ["127.0.0.1:8080:8080"]  # only the TLS proxy is public
    assert bot["environment"]["COVERWATCH_DATABASE__URL"].startswith("postgresql://")


def test_compose_keeps_secrets_in_the_env_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    services = compose()["services"]
    assert isinstance(services, dict)
    assert services["coverwatch"]["env_file"] == "coverwatch.env"
    assert "${POSTGRES_PASSWORD" in text
    assert not re.search(r"xox[bpa]-|SECRET\s*[:=]\s*\S", text)
    example = (DEPLOY / "coverwatch.env.example").read_text(encoding="utf-8")
    for key in ("COVERWATCH_SLACK__BOT_TOKEN", "COVERWATCH_WECOM__ENCODING_AES_KEY"):
        assert f"{key}=\n" in example  # named, left empty
    assert "deploy/coverwatch.env" in (ROOT / ".gitignore").read_text(encoding="utf-8")


def test_the_image_is_slim_non_root_with_a_cjk_font() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.\d+-slim$", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "fonts-wqy-microhei" in dockerfile and "/readyz" in dockerfile


def test_the_systemd_unit_runs_the_bot_as_its_own_user() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "coverwatch.service", encoding="utf-8")
    service = unit["Service"]
    assert service["User"] == "coverwatch"
    assert service["ExecStart"].split()[-1] == "run"
    assert service["EnvironmentFile"] == "/etc/coverwatch/coverwatch.env"
    assert service["KillSignal"] == "SIGTERM"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def docker_engine() -> bool:
    """A docker client that reaches an engine (the binary alone cannot build)."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


@pytest.mark.slow
def test_the_image_builds() -> None:
    if not docker_engine():
        pytest.skip("no Docker engine here")
    result = subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", "-t", "coverwatch:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]
