"""No module of the core imports from a layer above its own (docs/architecture.md).

Layers, top first: ``cli`` (with the other entry points: ``__main__`` and ``testing``, the pytest plugin
that drives the CLI for plugin authors); ``schedule``; ``docker`` and ``slurm`` (the runners); the run itself (``pipeline``, ``run``, ``training``,
``config``, ``registry``, ``plugins``, ... and any new top-level module); the plain data everything shares
(``specs``, ``errors``, ``files``).  Imports are read with ``ast``, those inside functions included;
imports only for type checking (under ``if TYPE_CHECKING:``) are not arrows at run time and are skipped.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "core" / "cnnpipe"
PACKAGES = {"cli": 4, "schedule": 3, "kube": 3, "docker": 2, "slurm": 2}
BASE = {"specs", "errors", "files", "__init__"}
NAMES = {4: "cli", 3: "schedule and kube", 2: "docker and slurm", 1: "the run (pipeline, run, ...)", 0: "specs, errors, files"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of ``cnnpipe.x.y``; ``cnnpipe`` itself (the version) is at the bottom."""
    parts = module.split(".")[1:]
    if not parts:
        return 0
    if parts[0] in ("__main__", "testing"):
        return PACKAGES["cli"]
    if parts[0] in PACKAGES:
        return PACKAGES[parts[0]]
    return 0 if parts[0] in BASE else 1


def type_checking_only(tree: ast.AST) -> set[int]:
    """Ids of import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return skipped


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every cnnpipe module that ``path`` imports at run time."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    skipped = type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "cnnpipe"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cnnpipe":
                continue
            # `from . import x` and `from .pkg import mod` name modules: judge each.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                is_module = (ROOT.parent / Path(*candidate.split("."))).with_suffix(".py").is_file() or \
                    (ROOT.parent / Path(*candidate.split("."))).is_dir()
                found.append((node.lineno, candidate if is_module else target))
    return found


def test_no_module_imports_from_a_layer_above_its_own():
    arrows = []
    for path in sorted(ROOT.rglob("*.py")):
        here = module_name(path)
        for line, target in imports(path):
            if layer(target) > layer(here):
                arrows.append(f"{path.relative_to(ROOT.parent)}:{line} ({NAMES[layer(here)]}) imports {target} "
                              f"({NAMES[layer(target)]})")
    assert arrows == []


def test_the_check_sees_an_arrow_back_up(tmp_path):
    """The test above can fail: a schedule module importing the CLI is caught."""
    bad = ROOT / "schedule" / "_layer_probe.py"
    bad.write_text("def f():\n    from ..cli.options import parse_run_args\n")
    try:
        found = [(line, t) for line, t in imports(bad) if layer(t) > layer(module_name(bad))]
    finally:
        bad.unlink()
    assert found == [(2, "cnnpipe.cli.options")]


def test_layers_of_known_modules():
    assert [layer(m) for m in ("cnnpipe.cli.run", "cnnpipe.schedule.store", "cnnpipe.docker.request",
                               "cnnpipe.pipeline", "cnnpipe.specs", "cnnpipe")] == [4, 3, 2, 1, 0, 0]
