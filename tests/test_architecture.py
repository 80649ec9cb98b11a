"""The arrows point one way: ui -> app -> engine <- training (and integrations -> engine). Checked on every file."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> module prefixes it must never import
FORBIDDEN = {
    "engine": ("PySide6", "PyQt5", "PyQt6", "qtpy", "qtawesome", "pytestqt", "app", "ui", "training"),
    "training": ("PySide6", "PyQt5", "PyQt6", "qtpy", "qtawesome", "app", "ui"),
    "app": ("PySide6.QtWidgets", "PySide6.QtGui", "PyQt5", "PyQt6", "qtpy", "qtawesome", "ui"),
    # plug-ins for other hosts: engine only (ComfyUI has its own top-level ``app`` package)
    "integrations": ("PySide6", "PyQt5", "PyQt6", "qtpy", "qtawesome", "app", "ui", "training"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_modules(path):
            for prefix in FORBIDDEN[package]:
                if module == prefix or module.startswith(prefix + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package: str) -> None:
    assert violations(package) == []


def test_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtWidgets import QWidget\nimport ui.main_window\n")
    modules = [m for _, m in imported_modules(bad)]
    assert "PySide6.QtWidgets" in modules and "ui.main_window" in modules


def test_importing_engine_and_app_loads_no_qt() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "import engine, app, training\n"
        "for pkg in (engine, app, training):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'ui'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
