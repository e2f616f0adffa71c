"""deploy/: the Dockerfile passes hadolint (no Docker engine in CI), the systemd unit passes
`systemd-analyze verify`, and the compose file, env example and wrapper fit the service."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "report-mail-service.service"
INSTALLED_CLI = "/opt/report-mail-service/venv/bin/report-mail-service"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is needed by the deploy checks: install {package}", pytrace=False)
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([tool("hadolint", "the test extra (pip install -e '.[test]')"), "--no-color",
                             str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_user_keeps_data_in_a_volume_and_checks_health() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.MULTILINE)
    assert 'VOLUME ["/data"]' in text and "SERVICE_DATA_DIR=/data" in text
    assert re.search(r"HEALTHCHECK .*\n\s+CMD \[\"report-mail-service\", \"status\", \"--check\"\]", text)
    for source in re.findall(r"^COPY (?!--from=)(.+) \S+$", text, re.MULTILINE):
        for name in source.split():
            if not name.startswith("--"):
                assert (ROOT / name).exists(), f"Dockerfile copies {name}, which is not in the repository"


def test_the_image_installs_the_built_wheel_not_the_source_tree() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install -e" not in text and "--editable" not in text
    assert re.search(r"^RUN pip wheel .*--no-deps .*--wheel-dir /wheels \.$", text, re.MULTILINE)
    assert re.search(r"^COPY --from=build /wheels /wheels$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \S.* /wheels/\*\.whl", text, re.MULTILINE)
    assert re.search(r"^COPY --chown=0:10001 --chmod=0640 config/service.toml ", text, re.MULTILINE)
    assert not re.search(r"^\s*SERVICE_DATABASE_URL=", text, re.MULTILINE)  # the database follows SERVICE_DATA_DIR


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    # verify insists the command exists: point it at a real executable, keep everything else.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED_CLI, tool("true", "coreutils")))
    result = subprocess.run([tool("systemd-analyze", "the Debian package systemd"), "verify", str(unit)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    text = UNIT.read_text(encoding="utf-8")
    for line in ("Restart=on-failure", "EnvironmentFile=/etc/report-mail-service/env", "UMask=0077",
                 f"ExecStart={INSTALLED_CLI} --config /etc/report-mail-service/service.toml run"):
        assert line in text


def test_compose_runs_the_worker_on_postgresql_once_it_is_healthy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    worker, postgres = compose["services"]["worker"], compose["services"]["postgres"]
    assert (DEPLOY / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy" and "healthcheck" in postgres
    assert worker["environment"]["SERVICE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert any(volume.endswith(":/data") for volume in worker["volumes"])


def test_compose_passes_passwords_as_secret_files_never_in_the_environment() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    files = {name: spec["file"] for name, spec in compose["secrets"].items()}
    assert set(files) == {"imap_password", "smtp_password", "postgres_password"}
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), f"{name}: {key} in the environment"
            if key.endswith("PASSWORD_FILE"):
                assert value.removeprefix("/run/secrets/") in service["secrets"], f"{name}: {key} not a secret"
        assert ":" not in database_userinfo(service), f"{name}: a password in the database URL"
    worker = compose["services"]["worker"]["environment"]
    assert {"SERVICE_IMAP_PASSWORD_FILE", "SERVICE_SMTP_PASSWORD_FILE", "SERVICE_DATABASE_PASSWORD_FILE"} <= set(worker)
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert all(file.startswith("./secrets/") for file in files.values())
    assert "/deploy/secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def database_userinfo(service: dict) -> str:
    """The user[:password] part of the service's database URL ('' when it has none)."""
    url = service.get("environment", {}).get("SERVICE_DATABASE_URL", "")
    return url.split("://", 1)[-1].split("@")[0] if "@" in url else ""


def test_every_container_rotates_its_logs() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    for name, service in compose["services"].items():
        logging_ = service.get("logging", {})
        assert logging_.get("driver") in ("json-file", "local"), name
        assert logging_["options"]["max-size"] and int(logging_["options"]["max-file"]) >= 2, name


def test_the_readme_asks_for_the_python_pyproject_requires_and_installs_the_config_0640() -> None:
    import tomllib
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    minimum = requires.removeprefix(">=")
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert f"Python {minimum} or later" in readme
    assert "Ubuntu 22.04 or later" not in readme and "Ubuntu 22.04 ships 3.10" in readme
    installs = [line for line in readme.splitlines() if "install " in line and line.rstrip().endswith("service.toml")]
    assert installs and all("-m 0640" in line and "-o root" in line for line in installs), installs
    assert "-m 0644" not in "\n".join(installs) and "pip install -e" not in readme


def test_the_env_example_sets_what_the_service_reads_and_the_wrapper_parses() -> None:
    keys = {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")}
    assert {"SERVICE_IMAP_PASSWORD", "SERVICE_SMTP_PASSWORD", "SERVICE_DATA_DIR"} <= keys
    assert subprocess.run(["sh", "-n", str(DEPLOY / "report-mail")], timeout=10).returncode == 0
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "授权码" in readme and "status --check" in readme


WEB_UNIT = DEPLOY / "report-mail-web.service"


def test_the_web_unit_verifies_and_serves_on_loopback(tmp_path: Path) -> None:
    unit = tmp_path / WEB_UNIT.name
    unit.write_text(WEB_UNIT.read_text(encoding="utf-8").replace(INSTALLED_CLI, tool("true", "coreutils")))
    result = subprocess.run([tool("systemd-analyze", "the Debian package systemd"), "verify", str(unit)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    text = WEB_UNIT.read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED_CLI} --config /etc/report-mail-service/service.toml web --host 127.0.0.1" in text
    assert "EnvironmentFile=/etc/report-mail-service/env" in text and "KillSignal=SIGTERM" in text


def test_compose_runs_the_web_workbench_on_the_same_database_published_on_loopback_only() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    web, worker = compose["services"]["web"], compose["services"]["worker"]
    assert web["command"][0] == "web" and web["image"] == worker["image"]
    assert web["environment"]["SERVICE_DATABASE_URL"] == worker["environment"]["SERVICE_DATABASE_URL"]
    assert all(port.startswith("127.0.0.1:") for port in web["ports"])
    assert any(volume.endswith(":/data") for volume in web["volumes"])  # attachments come from the archive
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "proxy_set_header X-Forwarded-Proto $scheme" in readme and "listen 443 ssl" in readme
