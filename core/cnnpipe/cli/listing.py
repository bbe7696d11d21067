"""``cnnpipe list``, ``cnnpipe info`` and ``cnnpipe plugins``: what is installed, without importing MXNet."""

from __future__ import annotations

import json

import click

from ..errors import PluginError, UsageError, one_line
from ..registry import KINDS
from .app import load_registry, main


@main.command("list")
@click.argument("kind", required=False, type=click.Choice(sorted(KINDS)))
@click.pass_context
def list_(ctx, kind):
    """List installed models (with their backends), datasets, backends and reporters."""
    reg = load_registry(ctx)
    for k in [kind] if kind else sorted(KINDS):
        if not kind:
            click.echo(f"{k}:")
        for name in reg.names(k):
            spec = reg.specs[k][name]
            indent = "" if kind else "  "
            backends = f" ({', '.join(spec.backends)})" if k == "models" else ""
            click.echo(f"{indent}{name:<16} {spec.summary}{backends}  [{spec.dist}]".rstrip())


@main.command()
@click.argument("name")
@click.option("--resize", type=int, help="Trace the layers for RESIZE x RESIZE inputs.")
@click.option("--set", "sets", multiple=True, metavar="arch.NAME=VALUE", help="Architecture argument.")
@click.option("--backend", help="Trace the network of this backend (default: the model's first).")
@click.pass_context
def info(ctx, name, resize, sets, backend):
    """Describe a model (layer by layer, per backend), dataset, backend or reporter."""
    reg = load_registry(ctx)
    for kind in ("models", "datasets", "backends", "reporters"):
        if name in reg.specs[kind] or any(k == (kind, name) for k in reg.clashes):
            spec = reg.get(kind, name)
            break
    else:
        every = sorted(n for k in KINDS for n in reg.names(k))
        raise UsageError(f"nothing installed is called '{name}'; installed: {', '.join(every)}")
    click.echo(f"{name}: {spec.summary}  [{spec.dist}]")
    if kind == "models":
        describe_model(reg, spec, resize, sets, backend)
    elif backend is not None or resize is not None or sets:
        raise UsageError(f"--backend, --resize and --set describe models; '{name}' is a {kind[:-1]}")
    elif kind == "datasets":
        from ..pipeline import describe

        if spec.input_shape:
            click.echo(f"input shape {spec.input_shape}, {spec.num_classes} classes")
        if spec.defaults is not None:
            click.echo(f"defaults for models without a recipe for it: {describe(spec.defaults)}")
        if spec.options:
            shown = ", ".join(f"{key}={value!r}" for key, value in spec.options.items())
            click.echo(f"options (--set data.NAME=VALUE): {shown}")
    elif kind == "backends":
        models = [m for m in reg.names("models") if name in reg.model(m).backends]
        click.echo(f"builds {len(models)} installed model(s): {', '.join(models) or 'none'}")


def describe_model(reg, spec, resize, sets, backend_name):
    from ..config import check_setting, parse_sets
    from ..pipeline import check_arch, describe, load_backend, pick_backend, plugin_call

    arch = {**spec.arch, **parse_sets([s if s.startswith("arch.") else f"arch.{s}" for s in sets]).get("arch", {})}
    check_arch(spec, arch)
    shape = tuple(spec.sample_shape)
    if resize is not None:
        shape = shape[:2] + (check_setting("resize", resize),) * 2
    backend = pick_backend(reg, spec, backend_name)
    click.echo(f"backends {', '.join(spec.backends)}; architecture arguments: {arch or 'none'}")
    loaded = load_backend(backend)
    what = f"backend '{backend.name}' ({backend.dist}) failed to trace model '{spec.name}' for a {shape} input"
    try:
        rows = plugin_call(what, loaded.layer_table, spec, arch, shape)
        _, num_params = plugin_call(what, loaded.describe, spec, arch, shape)
    except PluginError as exc:
        if resize is None and not sets:
            raise  # the model's own defaults failed: the plugin's fault
        # The user's --resize or --set: the same one line and exit status as cnnpipe run gives for them.
        reason = one_line(exc.__cause__) if exc.__cause__ is not None else str(exc)
        raise UsageError(f"model '{spec.name}' cannot take {shape[1:]} inputs with architecture arguments "
                         f"{arch}: {reason}") from exc
    click.echo(f"{backend.name} layers for a {shape} input:")
    width = max([24] + [len(str(name)) for name, _, _ in rows])
    for layer, out, params in rows:
        counted = "" if params is None else f"  parameters: {params:,}"
        click.echo(f"  {layer:<{width}} output shape: {str(out):<20}{counted}".rstrip())
    click.echo(f"parameters: {num_params:,}")
    for dataset, recipe in sorted(spec.recipes.items()):
        click.echo(f"recipe for {dataset}: {describe(recipe)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx, as_json):
    """Installed plugins: distribution, version, what each registers, status."""
    reg = load_registry(ctx)
    rows = [
        {"name": i.name, "dist": i.dist, "version": i.version, "module": i.module,
         "api": i.api, "status": i.status, "error": i.error, "registers": i.registers}
        for i in reg.infos
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    lines = [("PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "REGISTERS")]
    for row in rows:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["registers"].items()) or "-"
        status = row["status"] + (f": {row['error']}" if row["error"] else "")
        lines.append((row["name"], row["dist"], row["version"], status, what))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths)]
        tail = line[3] if line[3].startswith("broken") else f"{line[3]:<8}  {line[4]}"
        click.echo("  ".join(cells + [tail]).rstrip())
