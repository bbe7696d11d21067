"""The ``cnnpipe`` click group itself: one line per error, the registry loaded once per invocation.

The commands live one group per module and register themselves on :func:`main`."""

from __future__ import annotations

import os
import sys
import traceback

import click

from .. import __version__
from ..errors import CnnpipeError, one_line


class Group(click.Group):
    """Turns :class:`CnnpipeError` and click's own usage errors into one line and an exit code.

    With ``--debug`` (or ``CNNPIPE_DEBUG=1``) the traceback is shown as well; the exit code stays the same.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        open_missing_streams()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click.ClickException as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            message = " ".join(exc.format_message().split()).rstrip(".")
            click.echo(f"cnnpipe: error: {message}{hint}", err=True)
            code = exc.exit_code
        except click.exceptions.Abort:
            click.echo("cnnpipe: interrupted", err=True)
            code = 130
        except BaseException as exc:  # re-raised by invoke() only when debugging: the traceback, then the usual code
            if isinstance(exc, SystemExit):
                raise
            traceback.print_exc()
            code = exit_code(exc)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CnnpipeError as exc:
            if debugging(ctx):
                raise
            message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            click.echo(f"cnnpipe: error: {message}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (``cnnpipe list | head``): stop quietly.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except OSError as exc:
            if debugging(ctx):
                raise
            # The operating system's reason and the file it concerns, not Python's exception type.
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            click.echo(f"cnnpipe: error: {where}{exc.strerror or one_line(exc)} (rerun with --debug for the traceback)",
                       err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            if debugging(ctx):
                raise
            click.echo("cnnpipe: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:
            if debugging(ctx):
                raise
            click.echo(f"cnnpipe: error: {one_line(exc)} (rerun with --debug for the traceback)", err=True)
            ctx.exit(1)


def exit_code(exc: BaseException) -> int:
    """The exit code of an error: its own for a :class:`CnnpipeError`, 130 for Ctrl-C, else 1."""
    if isinstance(exc, CnnpipeError):
        return exc.exit_code
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def open_missing_streams() -> None:
    """Point closed standard streams (``2>&-``) at /dev/null.

    Otherwise the next file opened would take descriptor 2 and receive whatever a library writes to
    standard error; and Python, which found no stream at start-up, would print warnings to stdout.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)  # takes the lowest free descriptor: fd
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))


def debugging(ctx) -> bool:
    return bool((ctx.obj or {}).get("debug")) or os.environ.get("CNNPIPE_DEBUG") == "1"


def load_registry(ctx):
    """The plugin registry, loaded once per invocation."""
    obj = ctx.find_root().obj
    if "registry" not in obj:
        from ..registry import build_registry

        obj["registry"] = build_registry(disable=obj["disable"])
    return obj["registry"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cnnpipe")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--disable-plugin", "disable", multiple=True, metavar="NAME",
              help="Do not load this plugin (repeatable; also CNNPIPE_DISABLE_PLUGINS=a,b).")
@click.pass_context
def main(ctx, debug, disable):
    """Train the convolutional networks of Dive into Deep Learning, assembled from plugins."""
    ctx.obj = {"debug": debug, "disable": disable}
