"""Every transcript in the docs (``$ cnnpipe ...`` and the lines it printed) is what the CLI prints today.

Each page's transcripts run in order, in one shell session of their own (a fresh folder, ``CNNPIPE_HOME`` and no
Docker engine), and the output is compared line by line; times, dates, run-folder stamps and durations are masked.
The session stands for the machine of the scheduling walk-through (``CNNPIPE_GPUS=0``, ``IMAGE`` set as its
first step sets it). A comment right above a block says how else to hold it:

- ``<!-- transcript: recorded FILE -->``: a long run; its output must be FILE's, which the tool wrote
  (a first line ``$ COMMAND`` in FILE must be the same command);
- ``<!-- transcript: recorded FILE; rerun-with ARGS -->``: besides, the command is re-run with ARGS added
  (``--limit 600``), and every line must have the same shape, numbers masked;
- ``<!-- transcript: not re-run: REASON -->``: output that needs what a test cannot have (a scheduler pass
  with Docker); the reason is shown on the page's source.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from doc_pages import ROOT, Transcript, transcripts

TIMES = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?( ?[A-Z]{3,4}\b|Z|[+-]\d\d:?\d\d)?"), "<date>"),
    (re.compile(r"\d{8}-\d{6}"), "<stamp>"),
    (re.compile(r"\btime \d+(\.\d+)? sec\b"), "time <t> sec"),
    (re.compile(r"\d+(\.\d+)? ?(s|sec|seconds|ms)\b"), "<duration>"),
]
NUMBERS = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")


def mask(line: str, numbers: bool = False) -> str:
    for pattern, replacement in TIMES:
        line = pattern.sub(replacement, line)
    if numbers:
        line = NUMBERS.sub("<n>", line)
    return " ".join(line.split())


def matches(shown: list[str], printed: list[str], numbers: bool = False) -> bool:
    """Line by line after masking; a line ``...`` on the page stands for any number of lines."""
    shown = [mask(line, numbers) for line in shown]
    printed = [mask(line, numbers) for line in printed]
    pattern = "".join(".*?" if line == "..." else re.escape(line + "\n") for line in shown)
    return re.fullmatch(pattern, "".join(line + "\n" for line in printed), re.DOTALL) is not None


def directive(t: Transcript) -> dict:
    parts = dict(part.strip().split(" ", 1) if " " in part.strip() else (part.strip(), "")
                 for part in t.directive.split(";") if part.strip())
    if "not" in parts:
        parts["not re-run"] = parts.pop("not")
    return parts


PAGES = sorted({t.where.split(":")[0] for t in transcripts()})


def shell(command: str, cwd: Path, env: dict) -> list[str]:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    return (done.stdout + done.stderr).splitlines()


@pytest.fixture
def session(tmp_path, real_data) -> tuple[Path, dict]:
    """A folder and environment of its own; the dataset is the real Fashion-MNIST, as on a user's machine."""
    env = {**os.environ, "CNNPIPE_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "user"),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           # The scheduling walk-through's machine: one GPU (id 0) and the CUDA job image its first step built;
           # with no Docker engine reachable (as in every test not marked docker) the image is not looked up.
           "CNNPIPE_GPUS": "0", "IMAGE": "cnnpipe-job:mxnet-cuda-3f0c2a9e41d7"}
    env.pop("CNNPIPE_DATA_DIR", None)
    (tmp_path / "work").mkdir()
    return tmp_path / "work", env


def test_there_are_transcripts_to_check():
    assert len(transcripts()) >= 8 and "README.md" in PAGES


@pytest.mark.parametrize("page", PAGES)
def test_every_transcript_is_what_the_cli_prints(page, session):
    cwd, env = session
    for t in (t for t in transcripts() if t.where.split(":")[0] == page):
        how = directive(t)
        if "not re-run" in how:
            assert how["not re-run"], f"{t.where}: say why it is not re-run"
            continue
        if "recorded" in how:
            recorded = (ROOT / how["recorded"]).read_text().splitlines()
            if recorded and recorded[0].startswith("$ "):
                assert recorded[0][2:] == t.command, f"{t.where}: {how['recorded']} holds another command"
                recorded = recorded[1:]
            assert t.output == recorded, f"{t.where}: the output shown is not that of {how['recorded']}"
            if "rerun-with" not in how:
                continue
        printed = shell(f"{t.command} {how.get('rerun-with', '')}", cwd, env)
        assert matches(t.output, printed, numbers="rerun-with" in how), \
            f"{t.where}: `{t.command}` now prints:\n" + "\n".join(printed)
