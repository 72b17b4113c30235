"""Project rules that code review alone would miss."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = {"PySide6", "pyqtgraph", "vispy", "superqt", "shiboken6"}
TORCH_FREE_NEURAL = {"engine.neural.layout", "engine.neural.configs", "engine.neural.models"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_pickle_in_the_product():
    for p in list((ROOT / "engine").rglob("*.py")) + list((ROOT / "editor").rglob("*.py")):
        assert "pickle" not in _imports(p), p
        assert "allow_pickle=True" not in p.read_text(encoding="utf-8"), p


def test_importing_every_engine_module_and_listing_backends_loads_no_gui_and_no_torch():
    # engine.neural holds the neural backends' torch modules (imported by their plug-ins inside methods only);
    # its torch-free parts (the weights layout, constants, the models command) are imported here too.
    modules = sorted(m for m in (".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                                 for p in (ROOT / "engine").rglob("*.py"))
                     if not m.startswith("engine.neural.") or m in TORCH_FREE_NEURAL)
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "from engine.plugins import A2L_BACKENDS, RENDERERS\n"
            "for r in (A2L_BACKENDS, RENDERERS):\n"
            "    for n in r.names(): r.availability(n)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {sorted(GUI_MODULES | {'torch'})!r}]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--config", str(root / "pyproject.toml")], cwd=root, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def test_layer_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_layer_contracts_catch_a_lazy_upward_import(tmp_path):
    """The contracts are live: a function-level import of the document from the face layer breaks them."""
    import shutil

    for name in ("engine", "editor"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    contours = tmp_path / "engine" / "face" / "contours.py"
    contours.write_text(contours.read_text() + "\n\ndef _upward():\n    from engine.document import project\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "engine layers BROKEN" in result.stdout and "engine.face.contours -> engine.document.project" in result.stdout
