"""Project rules that code review alone would miss."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = {"PySide6", "pyqtgraph", "vispy", "superqt", "shiboken6"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_never_imports_qt_or_vispy():
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & GUI_MODULES) for p in (ROOT / "engine").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_pickle_in_the_product():
    for p in list((ROOT / "engine").rglob("*.py")) + list((ROOT / "editor").rglob("*.py")):
        assert "pickle" not in _imports(p), p
        assert "allow_pickle=True" not in p.read_text(encoding="utf-8"), p


def test_importing_the_engine_loads_no_gui_and_no_torch():
    code = ("import sys, engine.jobs, engine.face.reference, engine.a2l.embedded, engine.document.project, "
            "engine.render.warp; bad = [m for m in sys.modules if m.split('.')[0] in "
            f"{sorted(GUI_MODULES | {'torch'})!r}]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
