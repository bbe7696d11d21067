"""``cnnpipe runs list|show|compare``: the run folders on disk, one run in detail, several side by side."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from .app import main


@main.group()
def runs():
    """Run folders: list them, show one, compare several."""


def number(value, fmt: str = ".4f") -> str:
    return "-" if not isinstance(value, (int, float)) else format(value, fmt)


def duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def table(header: tuple, rows: list[tuple]) -> None:
    """Columns as wide as their widest cell, numbers right-aligned."""
    cells = [tuple(map(str, header))] + [tuple(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        line = "  ".join(cell.rjust(w) if _numeric(cell) else cell.ljust(w) for cell, w in zip(row, widths))
        click.echo(line.rstrip())


def _numeric(cell: str) -> bool:
    try:
        float(cell.replace("/", "").replace(",", ""))
        return True
    except ValueError:
        return False


def list_row(record, base: Path) -> tuple:
    try:
        name = str(record.path.relative_to(base))
    except ValueError:
        name = str(record.path)
    planned = record.get("epochs", "?")
    status = record.status if not record.problems else f"{record.status} ({'; '.join(record.problems)})"
    return (name, record.get("model", "?"), record.get("backend") or "?", record.get("dataset", "?"),
            f"{record.epochs_done}/{planned}", number(record.best_acc), number(record.last_acc),
            status, record.created[:16].replace("T", " ") or "-", duration(record.duration))


@runs.command("list")
@click.option("--out", type=click.Path(), help="Folder that holds run folders (default ./runs).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per run.")
def list_(out, as_json):
    """Every run folder under --out (sweep folders included), oldest first, with its status."""
    from .. import runs as records

    if out is None:
        out = "runs"
        if not Path(out).exists():
            click.echo("[]" if as_json else "no run folders under ./runs (give --out DIR for another folder)")
            return
    found = records.find(out)
    if as_json:
        click.echo(json.dumps([as_dict(r) for r in found], indent=2))
        return
    if not found:
        click.echo(f"no run folders under {out}")
        return
    header = ("FOLDER", "MODEL", "BACKEND", "DATASET", "EPOCHS", "BEST", "LAST", "STATUS", "STARTED", "DURATION")
    table(header, [list_row(r, Path(out)) for r in found])


def as_dict(record) -> dict:
    return {"path": str(record.path), "status": record.status, "problems": record.problems,
            "model": record.get("model"), "backend": record.get("backend"), "dataset": record.get("dataset"),
            "epochs_done": record.epochs_done, "epochs": record.get("epochs"), "best_test_acc": record.best_acc,
            "last_test_acc": record.last_acc, "created": record.created, "duration": record.duration,
            "cnnpipe": record.version}


@runs.command()
@click.argument("run", type=click.Path())
def show(run):
    """One run: status, settings, versions, every epoch's metrics, checkpoints and evaluations."""
    from .. import runs as records
    from ..rundir import RunDir

    record = records.open_run(run)
    click.echo(f"{'folder':<12} {record.path}")
    click.echo(f"{'status':<12} {record.status}" + "".join(f"; {p}" for p in record.problems))
    if record.summary.get("error"):
        click.echo(f"{'error':<12} {record.summary['error']}")
    click.echo(f"{'started':<12} {record.created or '-'}")
    click.echo(f"{'duration':<12} {duration(record.duration)}")
    click.echo(f"{'cnnpipe':<12} {record.version}")
    click.echo("settings:")
    for key, value in records.settings(record).items():
        click.echo(f"  {key:<18} {value}")
    if record.versions:
        click.echo("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items())))
    if record.history:
        click.echo("epochs:")
        rows = [(m.get("epoch"), number(m.get("train_loss")), number(m.get("train_acc"), ".3f"),
                 number(m.get("test_acc"), ".3f"), number(m.get("time"), ".1f"), number(m.get("images_per_sec"), ",.0f"))
                for m in record.history]
        table(("EPOCH", "LOSS", "TRAIN ACC", "TEST ACC", "TIME", "IMG/S"), rows)
    intact, damaged = RunDir(record.path).checkpoints()
    click.echo(f"checkpoints: {', '.join(str(e) for e, _ in sorted(intact)) or 'none'}"
               + "".join(f"; damaged: {f} ({why})" for f, why in damaged))
    for file in sorted(record.path.glob("evaluation*.json")):
        try:
            ev = json.loads(file.read_text())
            click.echo(f"{file.name}: {ev.get('dataset')} {ev.get('split')}, accuracy {number(ev.get('accuracy'))}, "
                       f"loss {number(ev.get('loss'))}")
        except (OSError, ValueError, AttributeError):
            click.echo(f"{file.name}: unreadable")


@runs.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(), metavar="RUN RUN...")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the runs' curves, overlaid, to this PNG file.")
def compare(run_dirs, plot):
    """Several runs side by side: the settings that differ, final metrics, and (--plot) their curves."""
    from .. import runs as records

    if len(run_dirs) < 2:
        raise UsageError("give at least two run folders to compare")
    found = [records.open_run(path) for path in run_dirs]
    compare_table(found)
    if plot:
        write_plot(found, plot)
        click.echo(f"written: {plot}")


def compare_table(found) -> None:
    """The settings that differ and the final metrics of each run, one row per run."""
    from .. import runs as records

    keys = records.differing(found)
    if not keys:
        click.echo("the runs have the same settings")
    flat = [records.settings(r) for r in found]
    header = ("RUN",) + tuple(keys) + ("EPOCHS", "LOSS", "TRAIN ACC", "BEST", "LAST", "STATUS", "DURATION")
    rows = []
    for record, values in zip(found, flat):
        last = record.history[-1] if record.history else {}
        rows.append((record.path.name,) + tuple(_cell(values.get(k)) for k in keys) + (
            f"{record.epochs_done}/{record.get('epochs', '?')}", number(last.get("train_loss")),
            number(last.get("train_acc")), number(record.best_acc), number(record.last_acc), record.status,
            duration(record.duration)))
    table(header, rows)
    for name in records.differing_versions(found):
        click.echo(f"{name} differs: " + ", ".join(f"{r.path.name} {r.versions.get(name, '?')}" for r in found))


def _cell(value) -> str:
    return "-" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def write_plot(found, path) -> None:
    from .. import runs as records
    from ..charts import compare_png

    keys = records.differing(found)
    models = sorted({str(r.get("model")) for r in found})
    datasets = sorted({str(r.get("dataset")) for r in found})
    title = f"{', '.join(models)} on {', '.join(datasets)}"
    try:
        compare_png([(records.label(r, keys), r.history) for r in found], path, title)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}")
