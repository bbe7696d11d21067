"""The ``cnnpipe`` command: a click group whose commands live one group per module."""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import CnnpipeError


class Group(click.Group):
    """Turns :class:`CnnpipeError` into one line and its exit code (a traceback only with ``--debug``)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CnnpipeError as exc:
            if debugging(ctx):
                raise
            click.echo(f"cnnpipe: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (``cnnpipe list | head``): stop quietly.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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
            click.echo(f"cnnpipe: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", err=True)
            ctx.exit(1)


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


from . import image, jobs, listing, manifest, run, schedule  # noqa: E402  (commands register themselves on main)
