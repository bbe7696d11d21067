"""``cnnpipe image``: job images for ``cnnpipe run --runner docker``."""

from __future__ import annotations

import time

import click

from .app import main


@main.group()
def image():
    """Build and list the container images that jobs run in."""


@image.command()
@click.option("--cuda", "variant", flag_value="cuda",
              help="CUDA image: mxnet-cu117 on NVIDIA's CUDA runtime, or torch's CUDA build (its CUDA libraries are wheels).")
@click.option("--cpu", "variant", flag_value="cpu", default=True, help="CPU image (the default).")
@click.option("--backend", default="mxnet", show_default=True,
              help="The backend whose framework the image holds (its CPU or CUDA build): mxnet, torch, ...")
@click.option("--base", metavar="IMAGE",
              help="Base image (default cnnpipe-base:py; cnnpipe-base:cuda11.7 for MXNet with --cuda).")
@click.option("--tag", metavar="TAG", help="Name of the image (default cnnpipe-job:BACKEND-VARIANT-FINGERPRINT).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the image name.")
def build(variant, backend, base, tag, quiet):
    """Build the job image from the cnnpipe core and every installed cnnpipe plugin (reused when unchanged)."""
    from ..docker import attached, image as images

    echo = (lambda *_: None) if quiet else (lambda msg: click.echo(msg, err=True))
    started = time.monotonic()
    name, reused = images.build(attached.connect(), variant, base, tag, echo=echo, backend=backend)
    if not quiet:
        what = "reused" if reused else f"built in {time.monotonic() - started:.0f} s"
        click.echo(f"image {name} ({what})", err=True)
    click.echo(name)


@image.command("list")
def list_images():
    """List job images with their variant, Python and plugin set."""
    import json

    from ..docker import attached, image as images

    for im in images.job_images(attached.connect()):
        labels = im.labels
        plugins = ", ".join(f"{k} {v}" for k, v in json.loads(labels.get("cnnpipe.plugins", "{}")).items())
        name = im.tags[0] if im.tags else im.short_id
        click.echo(f"{name}  {labels.get('cnnpipe.backend', 'mxnet')} {labels.get('cnnpipe.variant')}  python {labels.get('cnnpipe.python')}  {plugins}")
