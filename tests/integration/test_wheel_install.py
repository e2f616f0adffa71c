"""A wheel install outside the source tree: templates, the demo's mail and the shipped config come
from the package (importlib.resources), so `demo` runs from an empty folder."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl

from tests.conftest import ROOT

# What a clean checkout holds that the build reads (the test builds from a copy: no build/ in ROOT).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "service", "templates", "config", "examples")


def run(argv: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICE_", "PYTHON"))}
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_the_wheel_installed_in_a_fresh_virtualenv_runs_the_demo_from_an_empty_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", source], tmp_path)
    wheel = next((tmp_path / "dist").glob("report_mail_service-*.whl"))
    venv = tmp_path / "venv"
    # System site-packages: the dependencies are not downloaded again; the project itself comes from the wheel.
    run([sys.executable, "-m", "venv", "--system-site-packages", venv], tmp_path)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel], tmp_path)
    shutil.rmtree(source)  # nothing may be read from the build's source folder

    empty = tmp_path / "empty"
    empty.mkdir()
    where = run([venv / "bin" / "python", "-c", "import service; print(service.__file__)"], empty).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    demo = run([venv / "bin" / "report-mail-service", "demo"], empty, timeout=600)
    assert "长沙市" in demo.stdout and "湘西土家族苗族自治州" in demo.stdout
    folder = empty / "var" / "demo"
    assert len(list((folder / "outbox").glob("*receipt*.eml"))) > 10
    assert openpyxl.load_workbook(folder / "汇总表.xlsx").worksheets[0].max_row > 20
