"""Meta-tests: every hook is documented in code and in docs/plugins.md, and exercised by a test."""

import inspect
from pathlib import Path

from cnnpipe import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = [name for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("cnnpipe_")]


def test_every_hook_has_a_docstring_with_its_parameters():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc, name
        for param in inspect.signature(getattr(hookspecs, name)).parameters:
            assert f":param {param}:" in doc, (name, param)


def test_every_hook_is_in_the_plugin_guide():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    for name in HOOKS:
        assert f"`{name}(" in guide, name


def test_every_hook_is_implemented_somewhere_tested():
    sources = "".join(p.read_text() for p in (ROOT / "core" / "cnnpipe").rglob("*.py") if p.name != "hookspecs.py")
    sources += "".join(p.read_text() for p in (ROOT / "plugins").rglob("*.py"))
    for name in HOOKS:
        assert f"def {name}(" in sources, name


def test_the_distributed_figures_in_the_docs_come_from_the_benchmark_file():
    written = (ROOT / "benchmarks" / "distributed.md").read_text().splitlines()
    rows = [line for line in (ROOT / "docs" / "distributed.md").read_text().splitlines()
            if line.startswith("| ") and any(ch.isdigit() for ch in line)]
    tables = [row for row in rows if row.split("|")[1].strip() in
              ("mxnet, 1 worker", "mxnet, 2 workers", "torch, 1 worker", "torch, 2 workers", "resnet18", "lenet", "10", "25", "100")]
    assert len(tables) > 20
    for row in tables:
        assert row in written, f"not in benchmarks/distributed.md: {row}"
