"""Every third-party package the code imports is declared in pyproject.toml, so a new install has it."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ingest", "ui", "eval")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> dict[str, str]:
    """Top-level module -> a file that imports it, over every package's source (tests aside)."""
    found: dict[str, str] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return {m: f for m, f in found.items() if m not in sys.stdlib_module_names and m not in PACKAGES}


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_norm(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def test_every_imported_package_is_declared():
    distributions = importlib.metadata.packages_distributions()
    names = declared()
    missing = []
    for module, where in sorted(imported_modules().items()):
        dists = distributions.get(module)
        if not dists:
            missing.append(f"{module} (imported by {where}) is not installed")
        elif not any(_norm(d) in names for d in dists):
            missing.append(f"{module} (imported by {where}) comes from {dists[0]}, which pyproject.toml does not declare")
    assert not missing, "\n".join(missing)
