"""Every figure in README.md and benchmarks/ comes from a record the repository holds, written by the tool
that measured it; the chapter's table in the README matches the recipes and the book's figures."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
# A decimal figure; versions (1.9.1, 3.11.7) and names (cu117, ratio4) are not figures.
FIGURE = re.compile(r"(?<![\w.=>])(-?\d+\.\d+)(?![\w.]*\d)")
# Where a decimal is not a measurement: versions and the book's sections.
NOT_FIGURES = re.compile(r"(Python|python|CUDA|numpy|mxnet|torch|cnnpipe|Debian|Ubuntu|Docker|Slurm|section|d2l) $|(<=|>=|==|<|>) ?$")
SECTIONS = re.compile(r"\b\d\.\d+-\d\.\d+\b")  # "5.1-5.4"
CHAPTER = "## The chapter's networks"


@pytest.fixture(scope="module")
def reference():
    spec = importlib.util.spec_from_file_location("reference_accuracy", BENCHMARKS / "reference_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded_numbers() -> list[float]:
    """Every number in the JSON records under benchmarks/."""
    found = []

    def walk(value):
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            found.append(float(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for path in BENCHMARKS.glob("*.json"):
        walk(json.loads(path.read_text()))
    # Transcripts of the tool's own output, written by the script beside them (docs/after-training/make.sh).
    for path in (ROOT / "docs").glob("*/*.txt"):
        found += [float(x) for x in re.findall(r"(?<![\w.])\d+\.\d+(?![\w.]*\d)", path.read_text())]
    return found


def figures(text: str) -> list[str]:
    """The decimal figures of ``text`` (as written): versions, sections and settings in TOML examples left out."""
    text = SECTIONS.sub("", re.sub(r"```toml\n.*?```", "", text, flags=re.DOTALL))
    return [m.group(1) for m in FIGURE.finditer(text) if not NOT_FIGURES.search(text[max(0, m.start() - 12):m.start()])]


def unrecorded(text: str) -> list[str]:
    recorded = recorded_numbers()
    missing = []
    for figure in figures(text):
        places = len(figure.split(".")[1])
        if not any(format(x, f".{places}f") in (figure, figure.lstrip("-")) for x in recorded):
            missing.append(figure)
    return missing


def chapter_table() -> list[str]:
    """The rows of the README's table of the chapter's networks (recipes and the book's figures)."""
    section = (ROOT / "README.md").read_text().split(CHAPTER, 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def readme_without_the_chapter_table() -> str:
    table = set(chapter_table())
    return "\n".join(line for line in (ROOT / "README.md").read_text().splitlines() if line not in table)


def test_every_figure_in_the_readme_is_recorded():
    text = readme_without_the_chapter_table()
    assert len(figures(text)) >= 15  # the example run and the reference-accuracy summary
    assert unrecorded(text) == []


# Pages a tool renders from its record in units of its own (ms from seconds, MB from bytes): the page must be
# exactly what the tool renders from the committed record.
RENDERED = {
    "CHECKS.md": ("checks.py", "results-checks.json", lambda tool, record: tool.markdown(record, record["command"])),
    "distributed.md": ("distributed.py", "distributed.json", lambda tool, record: tool.markdown(record)),
    "fresh-machine.md": ("fresh_machine.py", "fresh-machine.json", lambda tool, record: tool.markdown(record)),
    "image_sizes.md": ("image_sizes.py", "image_sizes.json", lambda tool, record: tool.markdown(record)),
    "RESULTS.md": ("bench.py", "results.json",
                   lambda tool, record: tool.markdown(record, record.pop("command")) + "\n"),
}


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), BENCHMARKS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", sorted(p.name for p in BENCHMARKS.glob("*.md") if p.name not in RENDERED))
def test_every_figure_on_a_benchmark_page_is_recorded(page):
    assert unrecorded((BENCHMARKS / page).read_text()) == []


@pytest.mark.parametrize("page", sorted(RENDERED))
def test_a_page_is_its_record_as_its_tool_renders_it(page):
    tool, record, render = RENDERED[page]
    rendered = render(load_tool(tool), json.loads((BENCHMARKS / record).read_text()))
    assert rendered == (BENCHMARKS / page).read_text()


def test_the_chapter_table_matches_the_recipes_and_the_books_figures(cnnpipe_registry, reference):
    checked = set()
    for row in chapter_table():
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = re.findall(r"`([\w-]+)`", cells[0])
        recipe_cell, book_cell = cells[3], cells[4]
        if "/" not in recipe_cell or not re.match(r"^[\d.]+ / \d+ / ", recipe_cell):
            continue  # edge-kernel: squared loss on its own image, the book's learned kernel
        lr, batch, resize = (part.strip() for part in recipe_cell.split("/"))
        books = [float(b) for b in book_cell.split("/")]
        for name, book in zip(names, books if len(books) == len(names) else books * len(names)):
            recipe = cnnpipe_registry.model(name).recipes["fashion-mnist"]
            assert (recipe.lr, recipe.batch_size) == (float(lr), int(batch)), name
            assert recipe.resize == (None if resize == "-" else int(resize)), name
            assert reference.BOOK_TEST_ACC[name] == book, name
            checked.add(name)
    assert {"lenet", "alexnet", "vgg", "nin", "googlenet", "lenet-bn", "lenet-bn-scratch", "resnet18",
            "densenet"} <= checked
