"""What videopipe reads from disk (caches, index folders, results, configs) is parsed as data:
no module in the package calls a loader that can run code (``pickle``/``torch.load``/
``yaml.load``/``np.load(allow_pickle=True)``/``eval``/``exec``...). Read from the source with
``ast``; see docs/security.md."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "videopipe"

#: (module name, function) calls that deserialize code-carrying formats
CODE_LOADERS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("torch", "load"),
    ("marshal", "load"),
    ("marshal", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("joblib", "load"),
    ("shelve", "open"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
}


def code_loader_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("eval", "exec"):
            found.append(f"{f.id}(...)")
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            if (f.value.id, f.attr) in CODE_LOADERS:
                found.append(ast.unparse(node)[:80])
            elif (f.value.id, f.attr) == ("np", "load"):
                allow = [k for k in node.keywords if k.arg == "allow_pickle"]
                if not allow or not (
                    isinstance(allow[0].value, ast.Constant) and allow[0].value.value is False
                ):
                    found.append(ast.unparse(node)[:80] + "  (say allow_pickle=False)")
    return found


def test_the_scan_sees_a_code_loader() -> None:
    src = "import torch, numpy as np\nx = torch.load(p)\ny = np.load(p)\nz = np.load(p, allow_pickle=False)\neval(s)"
    assert len(code_loader_calls(src)) == 3


def test_no_module_calls_a_loader_that_can_run_code() -> None:
    found = [
        f"{p.relative_to(PACKAGE.parent)}: {call}"
        for p in sorted(PACKAGE.rglob("*.py"))
        for call in code_loader_calls(p.read_text(encoding="utf-8"))
    ]
    assert found == []
