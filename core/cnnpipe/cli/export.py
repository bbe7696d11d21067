"""``cnnpipe export``: a trained run's network in a format of its backend (ONNX, MXNet symbol, TorchScript)."""

from __future__ import annotations

import click

from .app import load_registry, main


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "format_", required=True, metavar="FORMAT",
              help="onnx, mxnet (symbol + params), pt2 (torch.export) or torchscript; what the run's backend offers.")
@click.option("--out", type=click.Path(), help="File (or folder) to write; default RUN_DIR/export/model.<suffix>.")
@click.option("--checkpoint", type=click.IntRange(min=1), metavar="N",
              help="Export the checkpoint after epoch N (default: the final parameters).")
@click.option("--device", help="auto, cpu, gpu or gpu:N (default: the run's own).")
@click.pass_context
def export(ctx, run_dir, format_, out, checkpoint, device):
    """Write the network of the run in RUN_DIR as FORMAT.

    The exported network takes float32 images (N, C, H, W) scaled to [0, 1], resized when the run
    resized, and gives one score per class before softmax.
    """
    from .. import export as exporting, inference

    opened = inference.open_run(load_registry(ctx), run_dir, checkpoint=checkpoint, device=device, whole_split=False)
    exporting.destination(opened, format_, out)  # an unknown format is refused before any work
    if format_ == "torchscript":
        click.echo("cnnpipe: note: PyTorch deprecates TorchScript; --format pt2 writes torch.export's program", err=True)
    for path in exporting.export(opened, format_, out):
        click.echo(f"written: {path}")
    shape = tuple(opened.run.data.test_X.shape[1:])
    if opened.run.config.resize:
        shape = shape[:1] + (opened.run.config.resize,) * 2
    output = (f"scores before softmax (classes: {', '.join(opened.class_names)})" if opened.classifies
              else "the network's outputs")
    click.echo(f"input: float32 (N, {', '.join(map(str, shape))}) in [0, 1]; output: {output}")
