"""The documentation as the doc tests read it: the pages, their fenced blocks, the ``cnnpipe ...`` command lines
in them and their transcripts (a ``$ cnnpipe ...`` line followed by its output)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
# Blocks in these languages hold code or data, never shell command lines.
NOT_SHELL = {"python", "toml", "json", "yaml", "ini", "text"}
# ``cnnpipe`` at a command position: line start, after a prompt, ``$(``, ``&&``, ``;``, ``|``, or a path to it.
COMMAND = re.compile(r"(?:^|(?<=[\s;&|(]))(?:[\w./-]*/)?cnnpipe(?=\s)")
INLINE = re.compile(r"(?<!`)`(cnnpipe [^`]+)`(?!`)")
GENERATED = {"docs/cli.md"}
PROMPT = re.compile(r"\$ (?:\w+=\S+ )*cnnpipe ")  # ``$ cnnpipe ...``, also after variables: ``$ A=1 cnnpipe ...``


def pages() -> list[Path]:
    """Every user-facing page: README.md, docs/*.md and the READMEs of the plugin and example packages."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found += sorted(ROOT.glob("plugins/*/README.md")) + sorted(ROOT.glob("examples/*/README.md"))
    return [p for p in found if rel(p) not in GENERATED]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    page: str
    line: int          # of the opening fence, 1-based
    language: str
    text: str
    directive: str     # the ``<!-- transcript: ... -->`` comment right above the block, if any


def blocks(page: Path) -> list[Block]:
    source = page.read_text()
    found = []
    for m in FENCE.finditer(source):
        before = source[:m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        directive = before[len("<!-- transcript:"):-3].strip() if before.startswith("<!-- transcript:") else ""
        indent = len(m.group(1))
        text = "".join(line[indent:] for line in m.group(3).splitlines(keepends=True))
        found.append(Block(rel(page), source.count("\n", 0, m.start()) + 1, m.group(2), text, directive))
    return found


def shell_lines(block: Block) -> list[tuple[int, str, bool]]:
    """``(line, command, refused)`` of the block: continuation lines joined; in a transcript only the ``$``
    lines, ``refused`` when the output shown is an error (the transcript tests re-run those)."""
    lines = block.text.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    found, i = [], 0
    while i < len(lines):
        start, line = i, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].strip()
        i += 1
        refused = i < len(lines) and lines[i].startswith("cnnpipe: error:")
        if prompted:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        found.append((block.line + 1 + start, line, refused))
    return found


def uncommented(line: str) -> str:
    """``line`` up to its shell comment (a ``#`` after a blank, outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


@dataclass(frozen=True)
class Command:
    where: str         # page:line
    text: str          # as written
    args: list         # the arguments after ``cnnpipe``, placeholders dropped
    inline: bool = False  # a mention in prose, as opposed to a line of a shell block
    refused: bool = False  # shown with the error it gets


def commands() -> list[Command]:
    """Every ``cnnpipe ...`` command line of every page: in shell blocks and in inline code."""
    found = []
    for page in pages():
        for block in blocks(page):
            if block.language in NOT_SHELL:
                continue
            for line, text, refused in shell_lines(block):
                text = uncommented(text)
                for m in COMMAND.finditer(text):
                    found.append(Command(f"{block.page}:{line}", text, arguments(text[m.end():]), refused=refused))
        for n, text in enumerate(page.read_text().splitlines(), 1):
            for m in INLINE.finditer(text):
                found.append(Command(f"{rel(page)}:{n}", m.group(1), arguments(m.group(1)[len("cnnpipe"):]), True))
    return found


def arguments(rest: str) -> list[str]:
    """The words of one command after ``cnnpipe``, up to the end of that shell command, without the
    comment, and without placeholders: ``[optional parts]``, ``...``."""
    rest = re.sub(r"\[[^\]'\"]*\]", " ", rest)
    lexer = shlex.shlex(rest, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = []
    try:
        for word in lexer:
            if word and set(word) <= set(";&|()<>"):
                break
            words.append(word)
    except ValueError:  # an unclosed quote: the line is cut, as in an inline span
        return [w for w in rest.split() if w]
    return [word[:-3] if word.endswith("...") else word for word in words if word not in ("...", "…")]


@dataclass(frozen=True)
class Transcript:
    where: str
    command: str       # after ``$ ``
    output: list       # the lines printed
    directive: str


def transcripts() -> list[Transcript]:
    """Every ``$ cnnpipe ...`` line followed by output lines in a block of any page."""
    found = []
    for page in pages():
        for block in blocks(page):
            lines = block.text.splitlines()
            for i, line in enumerate(lines):
                if not PROMPT.match(line):
                    continue
                command, rest = line[2:], lines[i + 1:]
                while command.endswith("\\") and rest:
                    command, rest = command[:-1] + " " + rest[0].strip(), rest[1:]
                output = []
                for after in rest:
                    if after.startswith("$ "):
                        break
                    output.append(after)
                while output and not output[-1].strip():
                    output.pop()
                if output:
                    found.append(Transcript(f"{block.page}:{block.line + 1 + i}", uncommented(command).strip(), output,
                                            block.directive))
    return found
