"""Image tags, file names and exit codes quoted in the docs are the ones the code uses: checked against the code's
constants (the job image's name, the run folder's files, the error classes' exit codes) and its sources."""

from __future__ import annotations

import os
import re

import pytest

from cnnpipe import errors, rundir
from cnnpipe.docker import container, image, wheels
from doc_pages import ROOT, pages, rel

SOURCES = "".join(p.read_text() for folder in ("core", "plugins", "examples") for p in (ROOT / folder).rglob("*.py"))
SOURCES += "".join(p.read_text() for p in (ROOT / "deploy").rglob("*") if p.is_file() and p.suffix != ".png")
FILE_NAME = re.compile(r"`([\w-]+\.(?:json|jsonl|params|states|log|png|onnx|pt|npz|csv|db|sqlite|service|txt))`")
# Names a user picks, used as examples on the pages.
EXAMPLES = {"shirt.png", "boot.jpg", "compare.png", "nightly-lenet.json", "manifest.json", "run.log"}


def repo_files() -> set[str]:
    """Names of the files in the repository (hidden folders such as .tox and .git left out)."""
    names = set()
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "runs"]
        names.update(files)
    return names


REPO_FILES = repo_files()


def quoted(pattern: re.Pattern) -> list[tuple[str, str]]:
    return [(f"{rel(page)}:{n}", m.group(1)) for page in pages()
            for n, line in enumerate(page.read_text().splitlines(), 1) for m in pattern.finditer(line)]


def test_image_tags_have_the_form_the_code_writes():
    from cnnpipe.registry import build_registry

    backends = "|".join(build_registry().names("backends"))
    variants = "|".join(image.BASES)
    form = re.compile(rf"{image.REPO}:(({backends})-({variants})-([0-9a-f]{{12}}|\.\.\.)|BACKEND-VARIANT-FINGERPRINT)")
    tags = quoted(re.compile(rf"({image.REPO}:[\w.-]+)"))
    assert tags
    for where, tag in tags:
        assert form.fullmatch(tag), f"{where}: {tag} is not a name `cnnpipe image build` gives (REPO:{form.pattern})"


def test_the_run_folder_table_names_the_files_the_code_writes():
    rows = re.findall(r"^\| `([^`]+)` \|", (ROOT / "docs" / "usage.md").read_text(), re.MULTILINE)
    written = {rundir.CONFIG, rundir.METRICS, rundir.PARAMS, rundir.SUMMARY, rundir.PLOT, rundir.LOG}
    assert written <= set(rows), written - set(rows)
    assert f"{rundir.CHECKPOINTS}/epoch-NNN/" in rows


def test_every_file_name_quoted_is_one_the_code_uses():
    names = quoted(FILE_NAME)
    assert len(names) > 20
    for where, name in names:
        if name in EXAMPLES or name in REPO_FILES:
            continue
        stem, _, ext = name.rpartition(".")
        # Written whole ("config.json"), with a part between stem and extension (f"evaluation{suffix}.json",
        # quoted as evaluation-train.json), or as a suffix after a prefix the user picks.
        head, _, tail = stem.partition("-")
        prefix = any(re.search(rf"[\"'/]{re.escape(part)}(\.{ext}\b|{{[^}}]*}}\.{ext}\b)", SOURCES)
                     for part in (stem, head))
        suffix = bool(tail) and f'"-{tail}.{ext}"' in SOURCES  # PREFIX-symbol.json: FORMATS = {"mxnet": "-symbol.json"}
        parts = f'"{stem}"' in SOURCES and f'".{ext}"' in SOURCES  # model.pt: prefix "model", FORMATS[...] ".pt"
        assert prefix or suffix or parts, f"{where}: no code writes or reads `{name}`"


def test_exit_codes_in_the_tables_are_the_codes_classes():
    by_class = {"UsageError": {errors.UsageError.exit_code}, "EngineError": {errors.EngineError.exit_code},
                "JobError": {container.TIMEOUT_EXIT, container.OOM_EXIT, wheels.BUILD_FAILED},
                "CnnpipeError": {errors.CnnpipeError.exit_code}, "PluginError": {errors.PluginError.exit_code}}
    checked = 0
    for page in pages():
        for n, line in enumerate(page.read_text().splitlines(), 1):
            m = re.match(r"\| ([\d, ]+) \| `(\w+Error)` \|", line)
            if m:
                codes = {int(c) for c in m.group(1).split(",")}
                assert codes <= by_class[m.group(2)], f"{rel(page)}:{n}: {m.group(2)} exits {by_class[m.group(2)]}"
                checked += 1
    assert checked >= 4


@pytest.mark.parametrize("code, text", [(errors.UsageError.exit_code, "exit status 2"),
                                        (container.TIMEOUT_EXIT, "(exit 124)"), (container.OOM_EXIT, "exit 137")])
def test_exit_codes_in_prose(code, text):
    assert str(code) in text
    assert any(text in page.read_text() for page in pages())
