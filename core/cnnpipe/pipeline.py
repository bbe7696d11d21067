"""Assemble a run from names and settings: resolve it once, then prepare it (load data, check, create the folder).

``resolve`` does every check that needs no data and no framework, so that ``--runner docker`` and the
scheduler can use it on a host without MXNet or PyTorch; ``prepare`` loads the backend and the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from . import __version__, config as cfg
from .distributed import environment as distributed
from .errors import CnnpipeError, PluginError, UsageError
from .rundir import RunDir
from .run import Run, World
from .specs import CLASSIFICATION, BackendSpec, DatasetSpec, ModelSpec, ReporterSpec

RESUME_MAY_CHANGE = {"epochs", "device", "reporters"}


@dataclass(frozen=True)
class Resolved:
    """One run, resolved: its configuration and the specs it uses (and, when resumed, its folder)."""

    config: cfg.RunConfig
    model: ModelSpec
    dataset: DatasetSpec
    backend: BackendSpec
    reporters: tuple[ReporterSpec, ...]
    run_dir: RunDir | None = None
    history: tuple = ()


def recipe_settings(model: ModelSpec, dataset_name: str) -> dict:
    """The model's book recipe for ``dataset_name`` as settings (empty when it has none)."""
    recipe = model.recipes.get(dataset_name)
    if recipe is None:
        return {}
    return {
        "lr": recipe.lr,
        "batch_size": recipe.batch_size,
        "epochs": recipe.epochs,
        "optimizer": recipe.optimizer,
        "resize": recipe.resize,
        "init": recipe.init,
    }


def resolve(registry, model_name, dataset_name, *, options=None, sets=(), config_file=None) -> Resolved:
    """A new run; every check that needs neither data nor a framework happens here."""
    if model_name is None or dataset_name is None:
        raise UsageError("cnnpipe run needs MODEL and DATASET (or --resume RUN_DIR)")
    model = registry.model(model_name)
    dataset = registry.dataset(dataset_name)
    from_file = cfg.read_config_file(config_file) if config_file else {}
    settings = cfg.merge(
        {"arch": dict(model.arch)},
        recipe_settings(model, dataset_name),
        from_file,
        cfg.parse_sets(sets),
        cfg.check_layer({k: v for k, v in (options or {}).items() if v is not None}, "options"),
    )
    for key in ("lr", "batch_size", "epochs"):
        if key not in settings:
            raise UsageError(
                f"model '{model_name}' has no recipe for dataset '{dataset_name}'; "
                f"give --lr, --batch-size and --epochs"
            )
    unknown = sorted(set(settings["arch"]) - set(model.arch))
    if unknown:
        valid = ", ".join(sorted(model.arch)) or "none"
        raise UsageError(f"model '{model_name}' has no architecture argument '{unknown[0]}'; valid: {valid}")
    config = cfg.RunConfig(model=model_name, dataset=dataset_name, **settings)
    backend = pick_backend(registry, model, config.backend)
    config.backend = backend.name
    distributed.check(config, backend)
    return Resolved(config, model, dataset, backend, reporter_specs(registry, config.reporters))


def pick_backend(registry, model: ModelSpec, name: str | None) -> BackendSpec:
    """The named backend, else the model's first; it must be installed and build the model."""
    name = name or model.backends[0]
    if name not in model.backends:
        raise UsageError(f"model '{model.name}' has no {name} build; it offers: {', '.join(model.backends)}")
    return registry.backend(name)


def reporter_specs(registry, names) -> tuple[ReporterSpec, ...]:
    """Reporter specs for ``names``; ``default`` stands for every default reporter."""
    chosen = []
    for name in names:
        if name == "default":
            chosen += [s for s in (registry.reporter(n) for n in registry.names("reporters")) if s.default]
        else:
            chosen.append(registry.reporter(name))
    return tuple({spec.name: spec for spec in chosen}.values())


def resolve_resume(registry, path, model_name=None, dataset_name=None, *, options=None, sets=(), config_file=None) -> Resolved:
    """A run to continue: the saved configuration of ``path`` with the few settings a resumed run may change."""
    run_dir = RunDir.open(path)
    saved = run_dir.read_config()["config"]
    for given, key in ((model_name, "model"), (dataset_name, "dataset")):
        if given is not None and given != saved.get(key):
            raise UsageError(f"{run_dir.path} is a run of {key} '{saved.get(key)}', not '{given}'")
    options = {k: v for k, v in (options or {}).items() if v is not None}
    fixed = sorted(set(options) - RESUME_MAY_CHANGE)
    if fixed or sets or config_file:
        what = ", ".join(f"--{cfg.flag(k)}" for k in fixed) or "--set/--config"
        raise UsageError(f"--resume continues the saved configuration; {what} cannot change (only --epochs, --device, --reporter)")
    source = f"run folder configuration {run_dir.file('config.json')}"
    try:
        config = cfg.RunConfig.from_saved(saved)
    except TypeError as exc:
        raise UsageError(f"{run_dir.file('config.json')} is damaged: {exc}")
    saved_settings = {k: v for k, v in vars(config).items() if k not in ("model", "dataset")}
    config = replace(config, **cfg.check_layer(saved_settings, source))
    config = replace(config, **cfg.check_layer(options, "options"))
    model = registry.model(config.model)
    dataset = registry.dataset(config.dataset)
    backend = pick_backend(registry, model, config.backend)
    config.backend = backend.name
    done, history = run_dir.last_checkpoint()
    if done >= config.epochs and (run_dir.file("model.params").is_file() and _succeeded(run_dir)):
        raise UsageError(f"{path} has already trained {done} of {config.epochs} epochs; pass --epochs N to train further")
    if done > config.epochs:
        raise UsageError(f"{path} has already trained {done} epochs; --epochs {config.epochs} would undo some")
    return Resolved(config, model, dataset, backend, reporter_specs(registry, config.reporters), run_dir, tuple(history))


def _succeeded(run_dir: RunDir) -> bool:
    import json

    try:
        return json.loads(run_dir.file("summary.json").read_text()).get("status") == "succeeded"
    except (OSError, ValueError, AttributeError):
        return False


def load_data(dataset: DatasetSpec, config: cfg.RunConfig):
    """Load the dataset, keeping the first ``config.limit`` examples of each split when set."""
    try:
        data = dataset.load(data_dir=config.data_dir)
    except CnnpipeError:
        raise
    except Exception as exc:
        raise PluginError(f"dataset '{dataset.name}' ({dataset.dist}) failed to load: {type(exc).__name__}: {exc}") from exc
    if config.limit:
        n = config.limit
        data.train_X, data.train_y = data.train_X[:n], data.train_y[:n]
        data.test_X, data.test_y = data.test_X[:n], data.test_y[:n]
    return data


def check_task(model: ModelSpec, dataset: DatasetSpec, data) -> None:
    """A classifier needs class labels; a regression model needs image targets."""
    if model.task == CLASSIFICATION and not data.class_names:
        raise UsageError(f"model '{model.name}' is a classifier; dataset '{dataset.name}' has no class labels")
    if model.task != CLASSIFICATION and data.class_names:
        raise UsageError(f"model '{model.name}' learns image targets ({model.task}); dataset '{dataset.name}' has class labels")


def prepare(registry, resolved: Resolved, *, join=None, held: bool = False):
    """Everything up to the first epoch: returns ``(run, reporters)``; nothing is written on a user error.

    In a run of several processes ``join(backend)`` returns this process's :class:`World` once every check
    has passed; only its leader writes the folder, and with ``held`` the launching process holds its lock.
    """
    config = resolved.config
    backend = resolved.backend.load()
    data = load_data(resolved.dataset, config)
    check_task(resolved.model, resolved.dataset, data)
    backend.check(config, resolved.model, data)
    if len(data.train_X) < config.workers:
        raise UsageError(f"{len(data.train_X)} training examples cannot be shared by {config.workers} workers")
    world = join(backend) if join else World()
    run = Run(config, registry, resolved.model, resolved.dataset, backend, data, None, resolved.history, world)
    reporters = [(spec, make_reporter(spec, run)) for spec in resolved.reporters]
    run.run_dir = resolved.run_dir
    if not world.leader:
        return run, reporters
    if resolved.run_dir is None:
        run.run_dir = RunDir.create(config.out, config.model, config.dataset)
        record = {
            "config": config.to_dict(),
            "versions": {"cnnpipe": __version__, **plugin_versions(registry), **backend.versions()},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if config.workers > 1:
            record["distributed"] = distributed.record(config, resolved.backend)
        run.run_dir.write_config(record)
    if not held:
        run.run_dir.lock()
    if resolved.run_dir is not None:
        run.run_dir.remove_leftovers()
        saved = run.run_dir.read_config()
        saved["config"] = config.to_dict()
        run.run_dir.write_config(saved)
    return run, reporters


def make_reporter(spec: ReporterSpec, run: Run):
    """``spec.factory(run)``; an error in it names the reporter (before any run folder exists)."""
    try:
        return spec.factory(run)
    except CnnpipeError:
        raise
    except Exception as exc:
        raise PluginError(f"reporter '{spec.name}' ({spec.dist}) failed to start: {type(exc).__name__}: {exc}") from exc


def plugin_versions(registry) -> dict:
    """``{distribution: version}`` of every loaded plugin."""
    return {info.dist: info.version for info in registry.infos if info.status == "ok"}
