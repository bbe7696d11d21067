"""``cnnpipe evaluate`` and ``cnnpipe predict``: a trained run's network on a dataset split, or on image files."""

from __future__ import annotations

import json

import click

from ..errors import UsageError
from .app import load_registry, main

device_option = click.option("--device", help="auto, cpu, gpu or gpu:N (default: the run's own).")
checkpoint_option = click.option("--checkpoint", type=click.IntRange(min=1), metavar="N",
                                 help="Use the checkpoint after epoch N (default: the final parameters).")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--dataset", help="Evaluate on this dataset (default: the run's own).")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@checkpoint_option
@device_option
@click.option("--data-dir", help="An exported file only: the folder with its dataset's files.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def evaluate(ctx, run_dir, dataset, split, checkpoint, device, data_dir, as_json):
    """Accuracy, loss, per-class accuracy and confusion matrix of the run in RUN_DIR, or of an ONNX file
    cnnpipe exported (run in onnxruntime with the preprocessing its metadata records).

    The results of a run also go into its folder: evaluation.json and confusion.png (names carry the split,
    dataset and checkpoint when they are not the run's own test split and final parameters).
    """
    from pathlib import Path

    from .. import inference

    if Path(run_dir).is_file():
        if checkpoint is not None or device is not None:
            raise UsageError("--checkpoint and --device apply to a run folder, not to an exported file")
        from ..onnxfile import evaluate_file

        result = evaluate_file(load_registry(ctx), run_dir, dataset, split, data_dir)
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            show(result)
        return
    if data_dir is not None:
        raise UsageError("--data-dir applies to an exported file; a run folder reads the data it was trained on")

    opened = inference.open_run(load_registry(ctx), run_dir, checkpoint=checkpoint, dataset=dataset, split=split,
                                device=device)
    result = inference.evaluate(opened)
    config = opened.run.config
    result.update({"run_dir": str(opened.run.run_dir.path), "model": config.model, "backend": config.backend,
                   "dataset": opened.run.dataset.name, "split": split})
    saved = save(opened, result)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    show(result)
    if saved:
        click.echo(f"written: {', '.join(str(p) for p in saved)}")


def stem(result: dict, own_dataset: str) -> str:
    """The name part shared by the JSON and the PNG of one evaluation."""
    parts = [result["split"]] if result["split"] != "test" else []
    if result["dataset"] != own_dataset:
        parts.append(result["dataset"])
    if result["checkpoint"] is not None:
        parts.append(f"epoch-{result['checkpoint']:03d}")
    return "".join(f"-{p}" for p in parts)


def save(opened, result: dict) -> list:
    """Write the evaluation JSON and confusion PNG into the run folder; a folder that cannot be written is
    warned about (the results were printed anyway)."""
    from ..charts import confusion_png
    from ..files import write_json

    run_dir = opened.run.run_dir
    suffix = stem(result, opened.run.config.dataset)
    paths = [run_dir.file(f"evaluation{suffix}.json")]
    try:
        write_json(paths[0], result)
        if "confusion" in result:
            paths.append(run_dir.file(f"confusion{suffix}.png"))
            title = f"{result['model']} ({result['backend']}) on {result['dataset']} {result['split']}"
            confusion_png(result["confusion"], result["classes"], paths[1], title)
    except OSError as exc:
        click.echo(f"cnnpipe: warning: cannot write into {run_dir.path}: {exc.strerror or exc}", err=True)
        return []
    return paths


def show(result: dict) -> None:
    """The results as the terminal shows them."""
    where = f"checkpoint {result['checkpoint']}" if result["checkpoint"] is not None else "final parameters"
    click.echo(f"{result['model']} ({result['backend']}) on {result['dataset']} {result['split']} split, "
               f"{result['examples']:,} examples, {where}")
    if "accuracy" not in result:
        click.echo(f"loss {result['loss']:.6f}")
        return
    recorded = result.get("recorded_test_acc")
    also = f" (recorded during training: {recorded:.4f})" if recorded is not None else ""
    click.echo(f"accuracy {result['accuracy']:.4f}{also}, loss {result['loss']:.4f}")
    names = result["classes"]
    digits = len(str(len(names) - 1))
    width = max(len(n) for n in names) + digits + 1
    matrix = result["confusion"]
    cell = max(4, len(str(max(max(row) for row in matrix))) + 1)
    click.echo(f"\n{'class':<{width}}  {'accuracy':>8}  confusion (rows: true class; columns: predicted class)")
    click.echo(" " * (width + 10) + "".join(f"{j:>{cell}}" for j in range(len(names))))
    for i, name in enumerate(names):
        acc = result["per_class"][name]
        shown = f"{acc:.3f}" if acc is not None else "-"
        label = f"{i:>{digits}} {name}"
        click.echo(f"{label:<{width}}  {shown:>8}" + "".join(f"{n:>{cell}}" for n in matrix[i]))


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True, help="Classes shown per image.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per image.")
@checkpoint_option
@device_option
@click.pass_context
def predict(ctx, run_dir, files, top, as_json, checkpoint, device):
    """Classify image FILES (PNG, JPEG or NPY) with the run in RUN_DIR, or with an ONNX file cnnpipe exported.

    Images are converted like the training data: to the dataset's channels (grayscale for one), the
    dataset's size (other sizes are refused), values 0-255 scaled to [0, 1]. A file that cannot be read
    gets one line on standard error, and the exit status is 2 when any failed.  An ONNX file runs in
    onnxruntime with the class names and preprocessing (scaling, resize) its metadata records.
    """
    from pathlib import Path

    from .. import inference

    if Path(run_dir).is_file():
        if checkpoint is not None or device is not None:
            raise UsageError("--checkpoint and --device apply to a run folder, not to an exported file")
        return predict_exported(run_dir, files, top, as_json)
    opened = inference.open_run(load_registry(ctx), run_dir, checkpoint=checkpoint, device=device, whole_split=False)
    inference.require_classifier(opened)
    classify = lambda X: inference.classify(opened, X, top)  # noqa: E731
    spec, options = opened.run.dataset, dict(opened.run.config.data)
    reader = (lambda file, shape: spec.read(file, shape, **options)) if spec.read else None  # noqa: E731
    classify_files(files, tuple(opened.run.data.test_X.shape[1:]), classify, as_json, reader)


def predict_exported(path, files, top, as_json) -> None:
    """``cnnpipe predict model.onnx FILES``: no run folder, no framework, only the file and onnxruntime."""
    import numpy as np

    from ..inference import softmax
    from ..onnxfile import OnnxModel

    model = OnnxModel(path)
    names = model.meta["classes"]
    if not names:
        raise UsageError(f"{path} is not a classifier's export (it records no class names)")

    def classify(X):
        probs = softmax(model.scores(X))
        best = np.argsort(-probs, axis=1, kind="stable")[:, :top]
        return [[(names[j], float(p[j])) for j in row] for p, row in zip(probs, best)]

    classify_files(files, model.shape, classify, as_json)


def classify_files(files, shape, classify, as_json, reader=None) -> None:
    """Read ``files`` as examples of ``shape`` (with the dataset's ``reader`` when it has one), rank each one's
    classes with ``classify`` and print them."""
    import numpy as np

    from .. import images

    names, arrays, failed = [], [], 0
    for file in files:
        try:
            X = (reader or images.read)(file, shape)
        except images.BadFile as exc:
            click.echo(f"cnnpipe: error: {exc}", err=True)
            failed += 1
            continue
        arrays.append(X)
        names += [file] if len(X) == 1 else [f"{file}[{i}]" for i in range(len(X))]
    if arrays:
        # uint8 pictures and float arrays go to the backend apart: it scales uint8 examples only.
        ranked: list = [None] * len(arrays)
        for kind in {X.dtype for X in arrays}:
            picked = [i for i, X in enumerate(arrays) if X.dtype == kind]
            best = iter(classify(np.concatenate([arrays[i] for i in picked])))
            for i in picked:
                ranked[i] = [next(best) for _ in range(len(arrays[i]))]
        report(names, [row for rows in ranked for row in rows], as_json)
    if failed:
        raise UsageError(f"{failed} of {len(files)} file(s) could not be classified")


def report(names, ranked, as_json: bool) -> None:
    if as_json:
        rows = [{"file": name, "predictions": [{"class": c, "probability": p} for c, p in best]}
                for name, best in zip(names, ranked)]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(n) for n in names)
    for name, best in zip(names, ranked):
        click.echo(f"{name:<{width}}  " + "  ".join(f"{c} {p:.3f}" for c, p in best))
