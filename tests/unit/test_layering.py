"""The house's floors (README, "How the code is laid out"): every import runs down, never up or sideways.

Read from the source with ast, so an import hidden in a function counts too; only imports under
`if TYPE_CHECKING:` (annotations, never executed) are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "service"
GROUND = {"config", "config_errors", "clock", "model", "text", "errors", "figures", "resources", "staff", "tables"}  # values, no I/O of their own
# Floors from the ground up; a floor imports only floors below it (and itself).
FLOORS = [
    {"ground"},
    {"store"},
    {"parse"},
    {"extract"},
    {"decide"},
    {"outgoing", "report"},  # siblings: neither imports the other
    {"ingest"},
    {"shell"},
]
RANK = {part: level for level, floor in enumerate(FLOORS) for part in floor}
SHELL_PACKAGES = {"web"}  # packages that are part of the shell: they wire the stages as cli.py does


def part_of(module: str, service: Path = SERVICE) -> str:
    """service.x.y -> its package x, a top-level module -> ground or shell."""
    name = module.split(".")[1] if "." in module else ""
    if name in SHELL_PACKAGES:
        return "shell"
    if name and (service / name).is_dir():
        return name
    return "ground" if name in GROUND else "shell"


def module_name(path: Path, service: Path = SERVICE) -> str:
    parts = list(path.relative_to(service.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            lines |= {n.lineno for child in node.body for n in ast.walk(child) if hasattr(n, "lineno")}
    return lines


def service_imports(path: Path, service: Path = SERVICE) -> list[tuple[str, int]]:
    """(absolute module, line) of every service import a file makes at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = type_checking_lines(tree)
    here = module_name(path, service)
    package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names]  # `from . import jobs` names a module
                found += [(n if (service.parent / n.replace(".", "/")).with_suffix(".py").exists() else target,
                           node.lineno) for n in names]
            elif node.module and node.module.startswith("service"):
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("service")]
    return found


SOURCES = sorted(p for p in SERVICE.rglob("*.py") if "versions" not in p.parts)


def upward_imports(sources: list[Path], service: Path = SERVICE) -> list[str]:
    wrong = []
    for path in sources:
        mine = part_of(module_name(path, service), service)
        for target, line in service_imports(path, service):
            theirs = part_of(target, service)
            if target in ("service", "service.__main__") or theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{path.relative_to(service.parent)}:{line} ({mine}) imports {target} ({theirs})")
    return wrong


def test_every_import_runs_down_a_floor() -> None:
    assert upward_imports(SOURCES) == []


def test_every_package_is_on_a_floor() -> None:
    packages = {p.name for p in SERVICE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK) | SHELL_PACKAGES, packages - set(RANK) - SHELL_PACKAGES


@pytest.mark.parametrize("path", [p for p in SOURCES if part_of(module_name(p)) != "store"],
                         ids=lambda p: str(p.relative_to(SERVICE)))
def test_only_the_store_speaks_sqlalchemy(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m.split(".")[0] in ("sqlalchemy", "alembic")]


def test_the_checker_sees_upward_and_sideways_imports(tmp_path: Path) -> None:
    """The rule's own check, on a small house: the store importing the shell, a report module importing
    outgoing, and the ground importing the store are reported; an annotation-only import is not."""
    service = tmp_path / "service"
    files = {
        "store/__init__.py": "", "report/__init__.py": "", "outgoing/__init__.py": "",
        "store/queries.py": "from ..jobs import poll\n",
        "report/summary.py": "from ..outgoing import remind\nfrom ..store import Store\n",
        "outgoing/remind.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..jobs import App\n",
        "model.py": "from .store import Store\n", "jobs.py": "from .store import Store\n",
    }
    for name, text in files.items():
        (service / name).parent.mkdir(parents=True, exist_ok=True)
        (service / name).write_text(text, encoding="utf-8")
    found = upward_imports(sorted(service.rglob("*.py")), service)
    assert [line.split(" (")[0] for line in found] == [
        "service/model.py:1", "service/report/summary.py:1", "service/store/queries.py:1"]
