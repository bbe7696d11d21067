"""The floors of the core (docs/architecture.md): no module imports from a floor above its own, and no
import circle, in the core or in any plugin package.

Every module of the core is placed on a floor by name below; a module that is not placed fails the test,
so a new module is placed on purpose.  Imports are read with ``ast``: those inside functions and those
only for type checking (under ``if TYPE_CHECKING:``) count too, since a type hint that climbs is a
dependency that climbs.  Modules on one floor may import each other, without a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "core" / "cnnpipe"
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

# Bottom first.  Names are relative to ``cnnpipe``; "" is the package itself (its version).
FLOORS = (
    ("base", "plain data and helpers every floor shares, the low-level multi-process contract",
     ("", "errors", "files", "specs", "config", "activations", "images", "interrupts", "processes", "datacheck",
      "charts", "threads", "requirements", "api", "augment", "datasource", "distributed", "distributed.engine", "distributed.environment")),
    ("run state", "the run plugins see and the folder it writes",
     ("run", "rundir")),
    ("contract", "what backends and other plugins implement, seeing a run",
     ("backend", "hookspecs")),
    ("trainer", "the training loop, the events it emits, the driver around it",
     ("training", "events", "driver")),
    ("assembly", "plugins loaded, a run resolved and prepared; what reads finished runs",
     ("plugins", "registry", "pipeline", "inference", "export", "runs", "sweep", "installing", "onnxfile", "builtin",
      "builtin.reporters")),
    ("runners", "the processes of a run on this machine",
     ("runner", "runner.rank", "runner.local", "runner.launch", "runner.output")),
    ("containers and clusters", "a run in a Docker container or on a Slurm cluster",
     ("docker", "docker.attached", "docker.container", "docker.engine", "docker.image", "docker.limits",
      "docker.request", "docker.source", "docker.staging", "docker.wheels",
      "slurm", "slurm.cluster", "slurm.script", "slurm.submit", "slurm.task")),
    ("services", "the scheduler, Kubernetes manifests, the machine's checks (doctor)",
     ("schedule", "schedule.define", "schedule.launcher", "schedule.records", "schedule.resources",
      "schedule.scheduler", "schedule.slots", "schedule.store", "schedule.testing", "schedule.slurm",
      "kube", "kube.cronjob", "kube.distributed", "kube.pods", "doctor")),
    ("cli", "the command line and what drives it (the pytest plugin for plugin authors)",
     ("cli", "cli.app", "cli.containers", "cli.evaluate", "cli.export", "cli.image", "cli.install", "cli.jobs",
      "cli.listing", "cli.manifest", "cli.docgen", "cli.slurm", "cli.doctor", "cli.options", "cli.output", "cli.run", "cli.runs", "cli.schedule", "cli.sweep",
      "__main__", "testing")),
)
FLOOR = {("cnnpipe." + name).rstrip("."): level for level, (_, _, names) in enumerate(FLOORS) for name in names}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every module of ``root``'s package that ``path`` imports, type-only imports included."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == root.name]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                target = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != root.name:
                continue
            for alias in node.names:  # `from . import x` and `from .pkg import mod` name modules: judge each
                candidate = root.parent / Path(*f"{target}.{alias.name}".split("."))
                is_module = candidate.with_suffix(".py").is_file() or candidate.is_dir()
                found.append((node.lineno, f"{target}.{alias.name}" if is_module else target))
    return found


def graph(root: Path) -> dict[str, list[tuple[int, str]]]:
    """Every module of the package at ``root`` with the ``(line, module)`` pairs it imports (itself left out)."""
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    return {name: [(line, t) for line, t in imports(path, root) if t != name] for name, path in modules.items()}


def circles(edges: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """The import circles: strongly connected components of more than one module (Tarjan, without recursion)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for _, target in targets:
                if target not in edges:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(edges[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def climbing(edges: dict[str, list[tuple[int, str]]]) -> list[str]:
    """Each import from a floor above the importer's own, as ``module:line (floor) imports module (floor)``."""
    arrows = []
    for here, targets in sorted(edges.items()):
        for line, target in targets:
            if FLOOR[target] > FLOOR[here]:
                arrows.append(f"{here}:{line} ({FLOORS[FLOOR[here]][0]}) imports {target} ({FLOORS[FLOOR[target]][0]})")
    return arrows


def test_every_module_of_the_core_is_placed_on_a_floor():
    modules = set(graph(CORE))
    assert sorted(modules - set(FLOOR)) == [], "place each new module on a floor in tests/test_layers.py"
    assert sorted(set(FLOOR) - modules) == [], "a floor names a module that no longer exists"


def test_no_import_climbs_a_floor():
    assert climbing(graph(CORE)) == []


def test_no_import_circle_in_the_core():
    assert circles(graph(CORE)) == []


@pytest.mark.parametrize("package", sorted(PLUGINS.glob("*/cnnpipe_*/")), ids=lambda p: p.name)
def test_no_import_circle_in_a_plugin(package):
    assert circles(graph(package)) == []


def write_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "cnnpipe"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_see_a_type_only_import_that_climbs(tmp_path):
    root = write_package(tmp_path, {
        "__init__.py": "",
        "specs.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .cli.app import main\n",
        "cli/__init__.py": "", "cli/app.py": "def main(): pass\n",
    })
    assert climbing(graph(root)) == ["cnnpipe.specs:3 (base) imports cnnpipe.cli.app (cli)"]


def test_the_checks_see_a_climbing_import_inside_a_function(tmp_path):
    root = write_package(tmp_path, {
        "__init__.py": "", "run.py": "def f():\n    from . import pipeline\n", "pipeline.py": "",
    })
    assert climbing(graph(root)) == ["cnnpipe.run:2 (run state) imports cnnpipe.pipeline (assembly)"]


def test_the_checks_see_a_circle(tmp_path):
    root = write_package(tmp_path, {
        "__init__.py": "", "a.py": "from . import b\n", "b.py": "from .c import x\n", "c.py": "import cnnpipe.a\nx = 1\n",
        "d.py": "from . import a\n",
    })
    assert circles(graph(root)) == [["cnnpipe.a", "cnnpipe.b", "cnnpipe.c"]]


def test_floors_of_known_modules():
    assert [FLOOR[m] for m in ("cnnpipe.specs", "cnnpipe.run", "cnnpipe.backend", "cnnpipe.training",
                               "cnnpipe.pipeline", "cnnpipe.runner.rank", "cnnpipe.docker.request",
                               "cnnpipe.schedule.store", "cnnpipe.cli.run", "cnnpipe")] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]


def table_of_floors() -> list[tuple[str, set[str]]]:
    """``(floor, modules)`` of each row of docs/architecture.md's table of floors, top first."""
    text = (CORE.parents[1] / "docs" / "architecture.md").read_text()
    rows = [line for line in text.split("## Floors", 1)[1].split("\n## ", 1)[0].splitlines()
            if line.startswith("| ") and not line.startswith("| floor")]
    everything = set(graph(CORE))
    table = []
    for row in rows:
        floor, cells = row.split("|")[1].strip(), row.split("|")[2]
        modules = set()
        for entry in cells.replace("`", "").replace(",", " ").split():
            if entry.endswith("/"):
                package = "cnnpipe." + entry.rstrip("/").replace("/", ".")
                modules |= {m for m in everything if m == package or m.startswith(package + ".")}
            else:
                modules.add(module_name(CORE / entry, CORE))
        table.append((floor, modules))
    return table


def test_the_architecture_page_places_every_module_where_the_floors_do():
    expected = [(name, {("cnnpipe." + m).rstrip(".") for m in names}) for name, _, names in reversed(FLOORS)]
    assert table_of_floors() == expected
