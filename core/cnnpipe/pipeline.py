"""Assemble a run from names and settings: resolve it once, then prepare it (load data, check, create the folder).

``resolve`` does every check that needs no data and no framework, so that ``--runner docker`` and the
scheduler can use it on a host without MXNet or PyTorch; ``prepare`` loads the backend and the data.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace

from . import __version__, config as cfg, datasource, threads, training
from .datacheck import check_data
from .distributed import environment as distributed
from .errors import CnnpipeError, PluginError, UsageError, one_line
from .events import Events, check_reporter
from .rundir import PARAMS, RunDir
from .run import Run, World
from .specs import BackendSpec, DatasetSpec, ModelSpec, Recipe, ReporterSpec

RESUME_MAY_CHANGE = {"epochs", "device", "reporters", "data_dir"}  # data_dir: checked by hashes


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
    notes: tuple[str, ...] = ()  # what the user should hear before the run starts: defaults used, a fallback


def recipe_settings(model: ModelSpec, dataset: DatasetSpec) -> tuple[dict, str]:
    """``(settings, note)``: the model's book recipe for ``dataset``, else the dataset's defaults (``note``
    then says so), else nothing; each value checked, naming the plugin that gave it."""
    recipe, note = model.recipes.get(dataset.name), ""
    source = f"the recipe of model '{model.name}' for '{dataset.name}' ({model.dist})"
    if recipe is None and dataset.defaults is not None:
        recipe = dataset.defaults
        source = f"the defaults of dataset '{dataset.name}' ({dataset.dist})"
        note = f"model '{model.name}' has no recipe for dataset '{dataset.name}'; using the dataset's defaults: {describe(recipe)}"
    if recipe is None:
        return {}, ""
    if not isinstance(recipe, Recipe):
        raise PluginError(f"{source} is a {type(recipe).__name__}, not a cnnpipe.specs.Recipe")
    settings = {key: getattr(recipe, key) for key in ("lr", "batch_size", "epochs", "optimizer", "resize", "init",
                                                      "momentum", "weight_decay", "nesterov")}
    try:
        return cfg.check_layer(settings, source), note
    except UsageError as exc:
        raise PluginError(str(exc)) from exc


def defaults_note(model: ModelSpec, dataset: DatasetSpec, used: dict) -> str:
    """The notice for a run that takes some of the dataset's defaults: only those, not the ones options replaced."""
    values = ", ".join(f"{cfg.flag(k)} {v}" for k, v in used.items() if v not in (None, 0, 0.0, False))
    if not values:
        return ""
    return f"model '{model.name}' has no recipe for dataset '{dataset.name}'; using the dataset's defaults for {values}"


def describe(recipe: Recipe) -> str:
    """A recipe in one phrase, as ``cnnpipe info`` prints it."""
    resized = f", resize {recipe.resize}" if recipe.resize else ""
    extra = "".join(f", {key.replace('_', ' ')} {getattr(recipe, key)}" for key in ("momentum", "weight_decay", "nesterov")
                    if getattr(recipe, key, None))
    return (f"{recipe.optimizer}, lr {recipe.lr}{extra}, batch {recipe.batch_size}, {recipe.epochs} epochs, "
            f"{recipe.init} init{resized}")


def resolve(registry, model_name, dataset_name, *, options=None, sets=(), config_file=None) -> Resolved:
    """A new run; every check that needs neither data nor a framework happens here."""
    if model_name is None or dataset_name is None:
        raise UsageError("cnnpipe run needs MODEL and DATASET (or --resume RUN_DIR)")
    model = registry.model(model_name)
    dataset = registry.dataset(dataset_name)
    from_file = cfg.read_config_file(config_file) if config_file else {}
    recipe, note = recipe_settings(model, dataset)
    given = [from_file, cfg.parse_sets(sets), cfg.check_layer({k: v for k, v in (options or {}).items() if v is not None},
                                                               "options")]
    settings = cfg.merge({"arch": dict(model.arch), "data": dict(dataset.options)}, recipe, *given)
    overridden = {key for layer in given for key in layer}
    if note and overridden & set(recipe):
        note = defaults_note(model, dataset, {k: v for k, v in recipe.items() if k not in overridden})
    for key in ("lr", "batch_size", "epochs"):
        if key not in settings:
            raise UsageError(
                f"model '{model_name}' has no recipe for dataset '{dataset_name}'; "
                f"give --lr, --batch-size and --epochs"
            )
    check_arch(model, settings["arch"])
    unknown = sorted(set(settings["data"]) - set(dataset.options))
    if unknown:
        valid = ", ".join(sorted(dataset.options)) or "none"
        raise UsageError(f"dataset '{dataset_name}' has no option '{unknown[0]}'; valid: {valid}")
    config = cfg.RunConfig(model=model_name, dataset=dataset_name, **settings)
    cfg.check_optimizer(config)
    backend = pick_backend(registry, model, config.backend)
    config.backend = backend.name
    distributed.check(config, backend)
    notes = (note,) if note else ()
    return Resolved(config, model, dataset, backend, reporter_specs(registry, config.reporters), notes=notes)


def check_arch(model: ModelSpec, arch) -> None:
    """Every name in ``arch`` must be one of ``model``'s architecture arguments."""
    unknown = sorted(set(arch) - set(model.arch))
    if unknown:
        valid = ", ".join(sorted(model.arch)) or "none"
        raise UsageError(f"model '{model.name}' has no architecture argument '{unknown[0]}'; valid: {valid}")


def pick_backend(registry, model: ModelSpec, name: str | None) -> BackendSpec:
    """The named backend, else :func:`default_backend`; it must be installed and build the model."""
    name = name or default_backend(registry, model)
    if name not in model.backends:
        raise UsageError(f"model '{model.name}' has no {name} build; it offers: {', '.join(model.backends)}")
    return registry.backend(name)


def default_backend(registry, model: ModelSpec) -> str:
    """The model's first backend that is registered with its framework installed; else its first."""
    registered = set(registry.names("backends"))
    for name in model.backends:
        if name in registered and registry.backend(name).installed():
            return name
    return model.backends[0]


def reporter_specs(registry, names) -> tuple[ReporterSpec, ...]:
    """Reporter specs for ``names``; ``default`` stands for every default reporter."""
    chosen = []
    for name in names:
        if name == "default":
            chosen += [s for s in (registry.reporter(n) for n in registry.names("reporters")) if s.default]
        else:
            chosen.append(registry.reporter(name))
    return tuple({spec.name: spec for spec in chosen}.values())


def resolve_start(registry, model_name, dataset_name, resume=None, *, options=None, sets=(), config_file=None,
                  lock: bool = True) -> Resolved:
    """The run a command was given: with ``resume``, the saved run to continue (:func:`resolve_resume`), else a
    new one (:func:`resolve`)."""
    if resume:
        return resolve_resume(registry, resume, model_name, dataset_name, options=options, sets=sets,
                              config_file=config_file, lock=lock)
    return resolve(registry, model_name, dataset_name, options=options, sets=sets, config_file=config_file)


def resolve_resume(registry, path, model_name=None, dataset_name=None, *, options=None, sets=(), config_file=None,
                   lock: bool = True) -> Resolved:
    """A run to continue: the saved configuration of ``path`` with the few settings a resumed run may change.

    The folder is locked first, so that a second process resuming it stops here; nothing in it is
    written until :func:`prepare` has checked everything.  The processes of a distributed run pass
    ``lock=False``: their launcher, or their leader in :func:`prepare`, holds the folder.
    """
    run_dir = RunDir.open(path)
    if lock:
        run_dir.lock()
    record = run_dir.read_config()
    config = run_dir.saved_config(record)
    for given, key in ((model_name, "model"), (dataset_name, "dataset")):
        if given is not None and given != getattr(config, key):
            raise UsageError(f"{run_dir.path} is a run of {key} '{getattr(config, key)}', not '{given}'")
    options = {k: v for k, v in (options or {}).items() if v is not None}
    fixed = sorted(set(options) - RESUME_MAY_CHANGE)
    if fixed or sets or config_file:
        what = ", ".join(f"--{cfg.flag(k)}" for k in fixed) or "--set/--config"
        raise UsageError(f"--resume continues the saved configuration; {what} cannot change (only --epochs, --device, --reporter, --data-dir)")
    config = replace(config, **cfg.check_layer(options, "options"))
    model = registry.model(config.model)
    dataset = registry.dataset(config.dataset)
    source = record.get(datasource.KEY) if isinstance(record.get(datasource.KEY), dict) else None
    config.data_dir = datasource.resume_dir(source, config.data_dir, options.get("data_dir"))
    datasource.verify(dataset, config.data_dir, source)
    backend = pick_backend(registry, model, config.backend)
    config.backend = backend.name
    done, history, damaged = run_dir.newest_checkpoint()
    if done >= config.epochs and (run_dir.file(PARAMS).is_file() and run_dir.succeeded()):
        raise UsageError(f"{path} has already trained {done} of {config.epochs} epochs; pass --epochs N to train further")
    if done > config.epochs:
        raise UsageError(f"{path} has already trained {done} epochs; --epochs {config.epochs} would undo some")
    fallback = f"resuming from the checkpoint of epoch {done}" if done else "no intact checkpoint is left; starting again from epoch 1"
    notes = tuple(f"warning: {file} is damaged ({why}); {fallback}" for file, why in damaged)
    return Resolved(config, model, dataset, backend, reporter_specs(registry, config.reporters), run_dir,
                    tuple(history), notes)


def plugin_call(what: str, call, *args, **kwargs):
    """``call(*args, **kwargs)``; whatever it raises but a :class:`CnnpipeError` or Ctrl-C becomes a
    :class:`PluginError` saying ``what`` failed (``SystemExit`` included: plugin code must not end cnnpipe)."""
    try:
        return call(*args, **kwargs)
    except (CnnpipeError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginError(f"{what}: {one_line(exc)}") from exc


def load_backend(spec: BackendSpec):
    """``spec.load()``; an unexpected failure (a missing native library, say) names the backend and points
    to ``cnnpipe doctor``, which checks each piece it needs."""
    try:
        return plugin_call(f"backend '{spec.name}' ({spec.dist}) failed to load", spec.load)
    except PluginError as exc:
        raise PluginError(f"{exc}; run 'cnnpipe doctor' to check what it needs") from exc.__cause__


def load_data(dataset: DatasetSpec, model: ModelSpec, config: cfg.RunConfig):
    """Load and check the dataset, keeping the first ``config.limit`` examples of each split when set."""
    data = plugin_call(f"dataset '{dataset.name}' ({dataset.dist}) failed to load", dataset.load,
                       data_dir=config.data_dir, **config.data)
    data = check_data(data, dataset, model)
    if config.limit:
        n = config.limit
        data.train_X, data.train_y = data.train_X[:n], data.train_y[:n]
        data.test_X, data.test_y = data.test_X[:n], data.test_y[:n]
    return data


def prepare(registry, resolved: Resolved, *, join=None, held: bool = False, session: bool = True):
    """Everything up to the first epoch: returns ``(run, reporters)``.

    Every check comes first: data, backend, reporters, the checkpoint a resumed run starts from.
    Only then is the run folder created (or, when resumed, its records rewritten), so a failing check
    leaves nothing behind.  In a run of several processes ``join(backend)`` returns this process's
    :class:`World` once every check has passed; only its leader writes the folder, and with ``held`` the
    launching process holds its lock.  ``session=False`` (that launcher) opens no backend session.
    """
    config, model, named = resolved.config, resolved.model, f"backend '{resolved.backend.name}' ({resolved.backend.dist})"
    data = load_data(resolved.dataset, model, config)  # first: a data problem needs no framework to show
    thread_record = threads.settle(config.threads, config.workers)  # before the framework's OpenMP starts
    backend = load_backend(resolved.backend)
    plugin_call(f"{named} failed to check model '{model.name}' ({model.dist})", backend.check, config, model, data)
    if len(data.train_X) < config.workers:
        raise UsageError(f"{len(data.train_X)} training examples cannot be shared by {config.workers} workers")
    world = join(backend) if join else World()
    events = Events(registry.pm, {info.name: info.dist for info in registry.infos})
    run = Run(config, registry, model, resolved.dataset, backend, data, resolved.run_dir, resolved.history, world, events)
    reporters = [(spec, make_reporter(spec, run)) for spec in resolved.reporters]
    if session:
        run.session = training.open_session(run)
    if not world.leader:
        return run, reporters
    if resolved.run_dir is None:
        failed = f"dataset '{resolved.dataset.name}' ({resolved.dataset.dist}) failed to locate its files"
        source = plugin_call(failed, datasource.record, resolved.dataset, config.data_dir)  # before the folder exists
        run.run_dir = RunDir.create(config.out, config.model, config.dataset)
        record = {
            "config": config.to_dict(),
            "versions": {**used_versions(resolved), "cnnpipe": __version__, **plugin_versions(registry),
                         **backend.versions()},
            "classes": list(data.class_names),
            datasource.KEY: source,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "threads": thread_record,
        }
        if config.workers > 1:
            record["distributed"] = distributed.record(config, resolved.backend)
        try:
            run.run_dir.write_config(record)
        except BaseException:
            shutil.rmtree(run.run_dir.path, ignore_errors=True)  # a full disk, say: no folder without its config
            raise
        if not held:
            run.run_dir.lock()
    else:
        if not held:
            run.run_dir.lock()
        run.run_dir.remove_leftovers()
        saved = run.run_dir.read_config()
        saved["config"] = config.to_dict()
        saved["threads"] = thread_record
        run.run_dir.write_config(saved)
        run.run_dir.write_metrics(run.history)  # a run stopped between files may lack its last lines
    return run, reporters


def make_reporter(spec: ReporterSpec, run: Run):
    """``spec.factory(run)``, checked to be a valid observer; an error names the reporter (before any run folder exists)."""
    reporter = plugin_call(f"reporter '{spec.name}' ({spec.dist}) failed to start", spec.factory, run)
    check_reporter(spec, reporter)
    return reporter


def used_versions(resolved: Resolved) -> dict:
    """``{distribution: version}`` of the plugins this run uses and everything they require (numpy, Pillow, ...)."""
    from .requirements import versions_of

    specs = (resolved.model, resolved.dataset, resolved.backend, *resolved.reporters)
    return versions_of({"cnnpipe", *(spec.dist for spec in specs if spec.dist)})


def plugin_versions(registry) -> dict:
    """``{distribution: version}`` of every loaded plugin."""
    return {info.dist: info.version for info in registry.infos if info.status == "ok"}
