"""Image tags, file names, exit codes and error messages quoted in the docs are the ones the code uses: checked
against the code's constants (the job image's name, the run folder's files, the error classes' exit codes) and its sources."""

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


def test_every_exit_code_in_prose_is_one_cnnpipe_uses():
    import signal

    known = {0, errors.CnnpipeError.exit_code, errors.UsageError.exit_code, errors.EngineError.exit_code,
             wheels.BUILD_FAILED, container.TIMEOUT_EXIT, container.OOM_EXIT, 126, 127,  # 126, 127: the shell's
             *(128 + s for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM))}
    said = quoted(re.compile(r"\bexit(?:s| status| code)? (\d+)\b"))
    assert len(said) >= 10
    for where, code in said:
        assert int(code) in known, f"{where}: cnnpipe never exits {code}"
    for page in pages():
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if re.search(r"usage error|UsageError", line) and re.search(r"\bexit(?:s| status)? \d", line):
                codes = {int(c) for c in re.findall(r"\bexit(?:s| status)? (\d+)", line)}
                assert errors.UsageError.exit_code in codes, f"{rel(page)}:{n}: a usage error exits 2"


def shown_messages() -> list[tuple[str, str]]:
    """Error messages the pages quote: the first column of every ``| message | ... |`` table, and the
    ``cnnpipe: error: ...`` lines of blocks that are not transcripts (those are re-run)."""
    found = []
    for page in pages():
        in_table, in_block, prompted = False, False, False
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if line.startswith("| message |"):
                in_table = True
            elif not line.startswith("|"):
                in_table = False
            if in_table and line.startswith("| `"):
                found += [(f"{rel(page)}:{n}", m) for m in re.findall(r"`([^`]+)`", line.split(" | ")[0])]
            if line.lstrip().startswith("```"):
                in_block, prompted = not in_block, False
            elif in_block:
                prompted = prompted or line.startswith("$ ")
                if line.startswith("cnnpipe: error: ") and not prompted:
                    found.append((f"{rel(page)}:{n}", line[len("cnnpipe: error: "):]))
    return found


def literal_parts(message: str) -> list[str]:
    """The parts of a quoted message that the code must hold word for word: what lies between the
    elisions (``...``), quoted values, numbers and placeholders (``N``, ``DIR``)."""
    parts = re.split(r"\.\.\.|'[^']*'|\b[A-Z][A-Z_]*\b(?![a-z])|\b\d[\w.:/-]*|\S*/\S*", message)
    return [p.strip(" ;,():") for p in parts if len(p.strip(" ;,():")) >= 12]


def test_every_error_message_quoted_is_one_the_code_prints():
    # Adjacent string literals and f-string fields joined, so that a message split over lines reads whole.
    code = re.sub(r"[\"']\s*\n\s*f?[\"']", "", SOURCES)
    # Module constants put into a message (f"...; {NVIDIA_HINT}") by their text, every other field as \x00.
    constants = dict(re.findall(r"^([A-Z][A-Z_]+) = \(?f?\"([^\"\n]*)\"\)?$", code, re.MULTILINE))
    code = re.sub(r"\{([A-Z][A-Z_]+)\}", lambda m: constants.get(m.group(1), "\x00"), code)
    code = re.sub(r"\{[^{}\n]*\}", "\x00", code)
    messages = shown_messages()
    assert len(messages) >= 10
    for where, message in messages:
        for part in literal_parts(message):
            assert printed(part.split(), code), f"{where}: no code prints '{part}'"


def printed(words: list[str], code: str) -> bool:
    """Whether ``words`` are in ``code``, where one word may be a value the code fills in (`no cpu job image`:
    f"no {variant} job image"), and a field at either end may stand for several words (f"...with: {resume}")."""
    def found(pattern_words, before="", after=""):
        return re.search(before + r"\s+".join(pattern_words) + after, code) is not None

    literal = [re.escape(word) for word in words]
    if found(literal) or any(found(literal[:i] + ["\x00"] + literal[i + 1:]) for i in range(len(words))):
        return True
    return any(found(literal[:k], after=r"\s*\x00") or found(literal[-k:], before=r"\x00\s*")
               for k in range(len(words) - 1, 2, -1))


def test_the_kubernetes_walkthrough_says_what_the_manifests_hold():
    """docs/kubernetes.md's uid, claims, mount points and label are those of the manifest its command prints."""
    import json

    from conftest import cli

    page = (ROOT / "docs" / "kubernetes.md").read_text()
    command = re.search(r"^cnnpipe (manifest [^\n]*?) -o run\.json$", page, re.MULTILINE).group(1).split()
    done = cli(*command)
    assert done.returncode == 0, done.stderr
    job = next(item for item in json.loads(done.stdout)["items"] if item["kind"] == "Job")
    pod = job["spec"]["template"]
    security = pod["spec"]["securityContext"]
    assert f"uid and gid {security['runAsUser']}" in page and security["runAsUser"] == security["runAsGroup"]
    assert f"`fsGroup: {security['fsGroup']}`" in page
    label, value = next((k, v) for k, v in pod["metadata"]["labels"].items() if k.startswith("cnnpipe."))
    assert f"-l {label}={value}" in page and f"`{label}=NAME`" in page
    mounts = {m["name"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    for volume in pod["spec"]["volumes"]:
        if "persistentVolumeClaim" in volume:
            claim, mount = volume["persistentVolumeClaim"]["claimName"], mounts[volume["name"]]
            assert f"| `{claim.replace(value, 'NAME')}` | `{mount['mountPath']}`" in page, claim
            assert mount.get("readOnly", False) == (f"`{mount['mountPath']}`, read-only" in page), claim
    assert f'"claimName": "{value}-runs"' in page


def test_image_sizes_in_the_docs_are_the_recorded_ones():
    import json

    recorded = json.loads((ROOT / "benchmarks" / "image_sizes.json").read_text())["images"]
    page = (ROOT / "docs" / "backends.md").read_text()
    for image in recorded:
        assert f"{image['size_bytes'] / 1e9:.2f} GB" in page, image["backend"]
