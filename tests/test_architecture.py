"""The package's shape, read from the source with ``ast`` (nothing is imported):

* no import cycle anywhere in ``videopipe/``, counting imports inside functions as well as
  module-level ones (a circle held together by function-level imports is still a circle:
  neither side can be read, tested or moved alone);
* dependencies in ``videopipe/models/`` run one way: loading -> registry -> adapters -> base ->
  contract, and ``contract.py`` imports nothing from ``videopipe.models``;
* no module imports a ``_private`` name (module or attribute) from another package;
* the pipeline's modules never probe a stage with ``hasattr``/``getattr`` (stages are checked
  with ``isinstance`` against their protocols), and ``Any`` appears in the signatures of neither
  ``Pipeline.__init__`` nor ``VideoLLM`` nor the stage protocols.

Imports under ``if TYPE_CHECKING:`` are left out: they never run (every module uses
``from __future__ import annotations``), so they cannot form a cycle at import time; they
only name types. Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, but those
implicit edges are left out as well: otherwise every module would "import" ``videopipe`` and
its lazy ``__getattr__`` imports would put the whole package in one cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "videopipe"

# Private imports across packages that are allowed (none: a helper another package needs is
# public, in a module named for what it holds).
ALLOWED_PRIVATE_IMPORTS: set[tuple[str, str]] = set()

# Import cycles outside videopipe/models/ that cannot be broken without touching files owned
# by other work in flight; each should go.
ALLOWED_CYCLES: set[frozenset[str]] = set()


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # the module imported (dotted)
    name: str | None  # the attribute of ``from target import name`` (None: a module import)
    line: int


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, top: Path) -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted(top.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: module level, in functions, in classes; not the
    body of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(modules: dict[str, Path], *, within: str = "videopipe") -> list[Import]:
    """The imports of ``modules`` that name a module of the package ``within``."""
    out: list[Import] = []
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_pkg = path.name == "__init__.py"
        for node in _import_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == within or alias.name.startswith(within + "."):
                        out.append(Import(mod, alias.name, None, node.lineno))
                continue
            target = _resolve(mod, is_pkg, node)
            if target != within and not target.startswith(within + "."):
                continue
            for alias in node.names:
                out.append(Import(mod, target, alias.name, node.lineno))
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules it imports (``from m import sub`` counts as importing the
    submodule ``m.sub`` when there is one, else ``m``)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports_of(modules):
        sub = f"{imp.target}.{imp.name}" if imp.name else None
        dest = sub if sub in modules else imp.target
        if dest in modules and dest != imp.importer:
            graph[imp.importer].add(dest)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package_of(module: str, modules: dict[str, Path]) -> str:
    path = modules.get(module)
    if path is not None and path.name == "__init__.py":
        return module
    return module.rpartition(".")[0]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(importers: dict[str, Path], modules: dict[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) pairs where a module imports a ``_private`` module or attribute of
    another package."""
    bad: set[tuple[str, str]] = set()
    for imp in imports_of(importers):
        full = f"{imp.target}.{imp.name}" if imp.name else imp.target
        owner = imp.target if full not in modules else full  # the module that holds the name
        if not any(_is_private(part) for part in full.split(".")):
            continue
        if importers is modules and _package_of(imp.importer, modules) == _package_of(owner, modules):
            continue
        bad.add((imp.importer, full))
    return bad


# ----------------------------------------------------------------------------------------------
MODULES = _modules(ROOT, PACKAGE)
GRAPH = import_graph(MODULES)


def test_the_graph_sees_function_level_imports() -> None:
    # pipeline imports the models' loading entry points inside functions only
    assert "videopipe.models" in GRAPH["videopipe.pipeline"]
    assert "videopipe.models.loading" in GRAPH["videopipe.pipeline"]
    # and TYPE_CHECKING imports are no edges (visual_tokens names EncodedLayout only for types)
    assert "videopipe.models.contract" not in GRAPH["videopipe.visual_tokens"]


def test_no_import_cycle_in_the_package() -> None:
    found = set(cycles(GRAPH))
    new = sorted(sorted(c) for c in found - ALLOWED_CYCLES)
    assert not new, f"import cycles: {new}"
    gone = sorted(sorted(c) for c in ALLOWED_CYCLES - found)
    assert not gone, f"these allowed cycles are gone; remove them from ALLOWED_CYCLES: {gone}"


# the layers of videopipe/models/, lowest first: a module may import only from its own layer or
# lower ones (the registry is models/__init__.py, which declares the entries by name)
MODEL_LAYERS = [
    {"videopipe.models.contract"},
    {
        "videopipe.models.checkpoint",
        "videopipe.models.quantize",
        "videopipe.models.quantize_store",
        "videopipe.models.tome",
        "videopipe.models.attention",
    },
    {"videopipe.models.base", "videopipe.models.splice", "videopipe.models.generation"},
    {"videopipe.models.qwen", "videopipe.models.frame_models"},
    {"videopipe.models.entries"},  # the registry: declares the adapters by name
    {"videopipe.models.loading"},
    {"videopipe.models", "videopipe.models.facts"},  # the facade; facts.py: the names' old home
]


def test_models_dependencies_run_one_way() -> None:
    layer_of = {m: i for i, layer in enumerate(MODEL_LAYERS) for m in layer}
    in_models = {m for m in MODULES if m == "videopipe.models" or m.startswith("videopipe.models.")}
    assert in_models == set(layer_of), "place every module of videopipe/models/ in MODEL_LAYERS"
    upward = sorted(
        (m, d)
        for m in in_models
        for d in GRAPH[m]
        if d in layer_of and layer_of[d] > layer_of[m]  # importing a higher layer
    )
    assert not upward, (
        f"imports against the direction loading -> registry -> adapters -> base -> contract: {upward}"
    )
    leaf = {d for d in GRAPH["videopipe.models.contract"] if d.startswith("videopipe.models")}
    assert not leaf, f"contract.py must import nothing from videopipe.models, imports {leaf}"


def _outside_users(package: str, *, allowed: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(importer, target) of the imports of ``package`` by modules outside it (and not in
    ``allowed``)."""
    return sorted(
        (imp.importer, imp.target)
        for imp in imports_of(MODULES)
        if (imp.target == package or imp.target.startswith(package + "."))
        and not imp.importer.startswith(package)
        and imp.importer not in allowed
    )


def test_production_code_never_names_the_fake_model_or_the_testing_package() -> None:
    uses = _outside_users("videopipe.testing")
    assert not uses, f"modules outside videopipe.testing import it: {uses}"


def test_no_private_imports_across_packages() -> None:
    found = private_imports(MODULES, MODULES)
    bench = _modules(ROOT, ROOT / "benchmarks")
    found |= private_imports(bench, MODULES)
    new = sorted(found - ALLOWED_PRIVATE_IMPORTS)
    assert not new, f"private names imported from another package: {new}"
    gone = sorted(ALLOWED_PRIVATE_IMPORTS - found)
    assert not gone, f"fixed; remove them from ALLOWED_PRIVATE_IMPORTS: {gone}"


def _declared_members() -> set[str]:
    """Every attribute and method the package's protocols declare (the optional abilities
    among them have defaults there, so nobody needs to probe for them)."""
    names: set[str] = set()
    for path in (PACKAGE / "protocols.py", PACKAGE / "models" / "contract.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(b) for b in node.bases}
            if "Protocol" not in bases:
                continue
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
    return {n for n in names if not n.startswith("__")}


def probes_of_declared_members(members: set[str]) -> list[str]:
    """``getattr(x, "name", ...)`` / ``hasattr(x, "name")`` calls in production code whose
    name is one a protocol declares. Checking that a *user's* object follows a protocol
    (``hasattr`` in a list of names, in the plugin constructors) is not a literal probe."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "testing" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in members
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_probe_scan_sees_a_probe() -> None:
    members = _declared_members()
    assert {
        "merges",
        "default_budget",
        "modality",
        "uses_query",
        "packet_sizes",
        "text_embeddings",
    } <= members
    tree = ast.parse('x = getattr(stage, "merges", False)')
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert isinstance(call, ast.Call) and call.args[1].value in members  # type: ignore[attr-defined]


def test_no_getattr_probe_for_an_ability_the_protocols_declare() -> None:
    assert probes_of_declared_members(_declared_members()) == []


def test_the_server_is_a_face_nothing_imports() -> None:
    # videopipe.serve uses the pipeline like videopipe.cli does; only its own commands name it
    # (``serve``, and ``mcp``, which serves the same worker as MCP tools)
    users = _outside_users("videopipe.serve", allowed=("videopipe.cli.serve", "videopipe.cli.mcp_server"))
    assert not users, f"modules outside videopipe.serve import it: {users}"
    assert any(d.startswith("videopipe.serve") for d in GRAPH["videopipe.cli.serve"])


# -- the pipeline's joints ------------------------------------------------------------------------
# the modules of one question's path: stages are checked with isinstance against their protocols
PIPELINE_MODULES = (
    "pipeline.py",
    "stages.py",
    "answer_steps.py",
    "evidence.py",
    "pipeline_records.py",
    "pipeline_jobs.py",
    "model_slot.py",
    "request.py",
)
# the protocols whose signatures say what a stage takes and gives
STAGE_PROTOCOLS = ("VideoLLM", "Sampler", "Compressor", "Embedder", "Retriever", "VideoReader")


def capability_probes(source: str) -> list[str]:
    """Every ``hasattr(...)`` / ``getattr(...)`` call in ``source``: in the pipeline's modules a
    stage's abilities come from its protocol (``isinstance``), never from probing it."""
    return [
        f"{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
    ]


def any_in_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """The parameters (and ``return``) of ``fn`` whose annotation mentions ``Any``."""
    args = fn.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    found = [a.arg for a in params if a.annotation is not None and "Any" in _names(a.annotation)]
    if fn.returns is not None and "Any" in _names(fn.returns):
        found.append("return")
    return found


def _names(annotation: ast.expr) -> set[str]:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(annotation) if isinstance(n, ast.Attribute)
    }


def _class(path: Path, name: str) -> ast.ClassDef:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name]
    assert found, f"{path.name} has no class {name}"
    return found[0]


def test_the_joint_scans_see_a_probe_and_an_any() -> None:
    assert capability_probes("ok = hasattr(stage, 'merges') or getattr(s, name, None)") != []
    fn = ast.parse("def f(self, sampler: Any = None, *, k: 'dict[str, Any]') -> int: ...").body[0]
    assert isinstance(fn, ast.FunctionDef) and any_in_signature(fn) == ["sampler", "k"]


def test_no_capability_probe_in_the_pipeline_modules() -> None:
    found = [
        f"videopipe/{name}:{probe}"
        for name in PIPELINE_MODULES
        for probe in capability_probes((PACKAGE / name).read_text(encoding="utf-8"))
    ]
    assert not found, (
        f"hasattr/getattr in the pipeline's modules (check isinstance against the protocol): {found}"
    )


def test_no_any_in_the_signatures_of_the_joints() -> None:
    init = next(
        n
        for n in _class(PACKAGE / "pipeline.py", "Pipeline").body
        if isinstance(n, ast.FunctionDef) and n.name == "__init__"
    )
    found = [f"Pipeline.__init__({p})" for p in any_in_signature(init)]
    for proto in STAGE_PROTOCOLS:
        for node in _class(PACKAGE / "protocols.py", proto).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{proto}.{node.name}({p})" for p in any_in_signature(node)]
            elif isinstance(node, ast.AnnAssign) and "Any" in _names(node.annotation):
                found.append(f"{proto}.{ast.unparse(node.target)}")
    assert not found, f"Any in the signatures of the pipeline's joints (name the protocol or type): {found}"


MAX_MODULE_LINES = 500  # the project guide: small modules with one job each


def modules_over(limit: int) -> dict[str, int]:
    """Every module of ``videopipe/`` longer than ``limit`` lines, with its length."""
    over = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            over[path.relative_to(ROOT).as_posix()] = n
    return over


def test_the_line_count_sees_a_long_module() -> None:
    assert modules_over(10**6) == {}
    assert "videopipe/pipeline.py" in modules_over(50)


def test_no_module_over_500_lines() -> None:
    assert modules_over(MAX_MODULE_LINES) == {}
