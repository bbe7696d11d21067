"""Every ``cnnpipe ...`` command line in README.md, docs/*.md and the package READMEs is one the real CLI
accepts: parsed by click on the real command tree (nothing runs), with every model, dataset, backend and reporter
name checked against the installed plugins; ``docs/cli.md`` is what the code generates."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from cnnpipe.cli import main
from cnnpipe.cli.docgen import render
from doc_pages import ROOT, Command, commands, pages, rel

# Names a page may use that no installed plugin registers: the example package's (installed by its README).
EXAMPLES = {name for path in ROOT.glob("examples/*/**/*.py")
            for name in re.findall(r"(?:Spec)\(\s*(?:name=)?\"([\w-]+)\"", path.read_text())}
KINDS = {"model": "models", "dataset": "datasets", "backend": "backends"}


@pytest.fixture(scope="module")
def names() -> dict:
    from cnnpipe.registry import build_registry

    registry = build_registry()
    found = {kind: set(registry.names(kind)) | EXAMPLES for kind in ("models", "datasets", "backends", "reporters")}
    found["reporters"].add("default")
    return found


def placeholder(word: str) -> bool:
    """``MODEL``, ``RUN_DIR``, ``$IMAGE``, ``REGISTRY/cnnpipe:cpu``: a word the reader replaces."""
    return word.startswith("$") or any(c.isupper() for c in word.split("/")[0].split("=")[0])


def parse(args: list[str]) -> click.Context | None:
    """``cnnpipe ARGS`` parsed as the command line would be; ``None`` for ``--help`` and ``--version``."""
    try:
        ctx = main.make_context("cnnpipe", list(args), resilient_parsing=False)
        command = main
        rest = ctx._protected_args + ctx.args if hasattr(ctx, "_protected_args") else ctx.protected_args + ctx.args
        while isinstance(command, click.Group) and rest:
            name, command, rest = command.resolve_command(ctx, rest)
            ctx = command.make_context(name, list(rest), parent=ctx, resilient_parsing=False)
            rest = (ctx._protected_args + ctx.args if hasattr(ctx, "_protected_args") else ctx.protected_args + ctx.args) \
                if isinstance(command, click.Group) else []
        return ctx
    except click.exceptions.Exit:
        return None


def check_names(ctx: click.Context, names: dict) -> list[str]:
    """What in the parsed ``ctx`` names no installed model, dataset, backend or reporter."""
    from cnnpipe.cli.options import parse_run_args

    params = dict(ctx.params)
    wrong = []
    if params.get("run_args"):  # schedule add ... -- MODEL DATASET [run options]
        wrong += check_names(parse_run_args(params.pop("run_args")), names)
    if ctx.command.name == "info":  # any kind of name
        name = params.get("name")
        if name and not placeholder(name) and not any(name in names[kind] for kind in names):
            wrong.append(f"name {name!r}")
    for key, kind in KINDS.items():
        value = params.get(key)
        if value and not placeholder(value) and value not in names[kind]:
            wrong.append(f"{key} {value!r}")
    for value in params.get("reporters") or ():
        if not placeholder(value) and value not in names["reporters"]:
            wrong.append(f"reporter {value!r}")
    for item in params.get("grid") or ():
        key, _, values = item.partition("=")
        if key == "backend":
            wrong += [f"backend {v!r}" for v in values.split(",") if v not in names["backends"]]
    return wrong


BLOCK_COMMANDS = [c for c in commands() if not c.inline and not c.refused]
INLINE_COMMANDS = [c for c in commands() if c.inline]


def test_the_pages_hold_command_lines():
    assert len(BLOCK_COMMANDS) > 60 and len(INLINE_COMMANDS) > 40


@pytest.mark.parametrize("command", BLOCK_COMMANDS, ids=lambda c: c.where)
def test_every_command_line_parses(command, names):
    # A one-letter placeholder stands for a number (--workers N); longer ones (RUN_DIR) stay words.
    args = ["2" if re.fullmatch(r"[A-Z]", word) else word for word in command.args]
    try:
        ctx = parse(args)
    except click.ClickException as exc:
        pytest.fail(f"{command.where}: `{command.text}`: {exc.format_message()}")
    if ctx is not None:
        assert not check_names(ctx, names), f"{command.where}: `{command.text}`: unknown {check_names(ctx, names)}"


@pytest.mark.parametrize("command", INLINE_COMMANDS, ids=lambda c: c.where)
def test_every_command_mentioned_in_prose_exists_with_its_options(command, names):
    """Inline code names a command and some options, often without their values: each must exist."""
    command_ = main
    words = list(command.args)
    while isinstance(command_, click.Group) and words and not words[0].startswith("-"):
        name = words.pop(0)
        assert name in command_.commands, f"{command.where}: `{command.text}`: no command {name!r}"
        command_ = command_.commands[name]
    known = {opt for p in command_.params for opt in p.opts + p.secondary_opts} | {"--help", "-h"}
    if command_ is not main:
        known |= {opt for p in main.params for opt in p.opts}
    for word in words:
        if word.startswith("-") and word != "--":
            assert word.split("=")[0] in known, f"{command.where}: `{command.text}`: no option {word!r}"


def test_the_command_reference_is_up_to_date():
    page = ROOT / "docs" / "cli.md"
    assert page.is_file() and page.read_text() == render(), \
        "docs/cli.md is stale: regenerate it with: python -m cnnpipe.cli.docgen docs/cli.md"


def test_every_page_links_only_to_files_that_exist():
    for page in [*pages(), ROOT / "docs" / "cli.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{rel(page)}: link to missing {target}"


def test_plugins_are_installed_from_where_they_are():
    """No package index holds the cnnpipe distributions: every install of one names its folder."""
    for page in pages():
        for n, line in enumerate(page.read_text().splitlines(), 1):
            for m in re.finditer(r"(?:pip|cnnpipe) install ([^`#\n]*)", line):
                for word in m.group(1).replace("'", " ").replace('"', " ").split():
                    if word.startswith("cnnpipe-"):
                        pytest.fail(f"{rel(page)}:{n}: `{word}` is on no package index; install ./plugins/{word}")


def test_the_readme_indexes_every_page():
    readme = (ROOT / "README.md").read_text()
    index = readme[readme.index("## Documentation"):]
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in index, f"README.md's documentation index lacks docs/{page.name}"


def test_the_usage_page_describes_every_option_of_run():
    usage = (ROOT / "docs" / "usage.md").read_text()
    for param in main.commands["run"].params:
        for option in param.opts:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in usage, f"docs/usage.md does not describe `cnnpipe run {option}`"


def test_the_readme_is_a_guide_under_150_lines():
    """Reference material lives in docs/ and the README links to it."""
    assert len((ROOT / "README.md").read_text().splitlines()) < 150
