"""Assemble a run from names and settings: look up plugins, resolve the configuration, load data."""

from __future__ import annotations

import time

from . import __version__, config as cfg
from .errors import UsageError
from .rundir import RunDir
from .run import Run

RESUME_MAY_CHANGE = {"epochs", "device", "reporters"}


def recipe_settings(model, dataset_name: str) -> dict:
    """The model's book recipe for ``dataset_name`` as settings (empty when it has none)."""
    recipe = model.recipes.get(dataset_name)
    if recipe is None:
        return {}
    return {
        "lr": recipe.lr,
        "batch_size": recipe.batch_size,
        "epochs": recipe.num_epochs,
        "optimizer": recipe.optimizer,
        "resize": recipe.resize,
        "init": recipe.init,
    }


def resolve(registry, model_name, dataset_name, *, options=None, sets=(), config_file=None) -> cfg.RunConfig:
    """The configuration of a new run; every check that needs no data happens here."""
    model = registry.get("models", model_name)
    registry.get("datasets", dataset_name)
    from_file = cfg.read_config_file(config_file) if config_file else {}
    settings = cfg.merge(
        {"arch": dict(model.arch)},
        recipe_settings(model, dataset_name),
        from_file,
        cfg.parse_sets(sets),
        options or {},
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
    settings = cfg.validate(settings)
    config = cfg.RunConfig(model=model_name, dataset=dataset_name, **settings)
    config.trainer = pick_trainer(registry, model, config.trainer).name
    reporter_specs(registry, config.reporters)
    return config


def pick_trainer(registry, model, name):
    """The named trainer, else the model's own choice, else the backend's namesake or first trainer."""
    name = name or model.trainer
    if name is None:
        candidates = [registry.get("trainers", n) for n in registry.names("trainers")]
        candidates = [s for s in candidates if s.backend == model.backend]
        if not candidates:
            raise UsageError(f"no installed trainer supports the {model.backend} backend that model '{model.name}' needs")
        named = [s for s in candidates if s.name == model.backend]
        return (named or candidates)[0]
    spec = registry.get("trainers", name)
    if spec.backend != model.backend:
        raise UsageError(f"trainer '{name}' trains {spec.backend} models; model '{model.name}' is {model.backend}")
    return spec


def reporter_specs(registry, names) -> list:
    """Reporter specs for ``names``; ``default`` stands for every default reporter."""
    chosen = []
    for name in names:
        if name == "default":
            specs = [registry.get("reporters", n) for n in registry.names("reporters")]
            chosen += [s for s in specs if s.default]
        else:
            chosen.append(registry.get("reporters", name))
    unique = {spec.name: spec for spec in chosen}
    return list(unique.values())


def resume_config(run_dir: RunDir, model_name, dataset_name, options: dict, sets=(), config_file=None):
    """The saved configuration of ``run_dir`` with the few settings a resumed run may change."""
    saved = run_dir.read_config()["config"]
    for given, key in ((model_name, "model"), (dataset_name, "dataset")):
        if given is not None and given != saved[key]:
            raise UsageError(f"{run_dir.path} is a run of {key} '{saved[key]}', not '{given}'")
    fixed = sorted(set(options) - RESUME_MAY_CHANGE)
    if fixed or sets or config_file:
        what = ", ".join(f"--{k.replace('_', '-')}" for k in fixed) or "--set/--config"
        raise UsageError(f"--resume continues the saved configuration; {what} cannot change (only --epochs, --device, --reporter)")
    settings = cfg.validate({**saved, **options})
    return cfg.RunConfig(**settings)


def load_data(dataset, config: cfg.RunConfig):
    """Load the dataset, keeping the first ``config.limit`` examples of each split when set."""
    data = dataset.load(data_dir=config.data_dir)
    if config.limit:
        n = config.limit
        data.train_X, data.train_y = data.train_X[:n], data.train_y[:n]
        data.test_X, data.test_y = data.test_X[:n], data.test_y[:n]
    return data


def prepare(registry, model_name=None, dataset_name=None, *, options=None, sets=(), config_file=None, resume=None):
    """Everything up to the first epoch: returns ``(run, reporters)``; nothing is written on a user error."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if resume:
        run_dir = RunDir.open(resume)
        config = resume_config(run_dir, model_name, dataset_name, options, sets, config_file)
        done, history = run_dir.last_checkpoint()
        if done >= config.epochs:
            raise UsageError(f"{resume} has already trained {done} of {config.epochs} epochs; pass --epochs N to train further")
    else:
        if model_name is None or dataset_name is None:
            raise UsageError("cnnpipe run needs MODEL and DATASET (or --resume RUN_DIR)")
        config = resolve(registry, model_name, dataset_name, options=options, sets=sets, config_file=config_file)
        run_dir, history = None, []
    model = registry.get("models", config.model)
    dataset = registry.get("datasets", config.dataset)
    trainer = pick_trainer(registry, model, config.trainer)
    specs = reporter_specs(registry, config.reporters)
    data = load_data(dataset, config)
    if trainer.check is not None:
        trainer.check(config, model, data)
    if run_dir is None:
        run_dir = RunDir.create(config.out, config.model, config.dataset)
        run_dir.write_config({
            "config": config.to_dict(),
            "versions": {"cnnpipe": __version__, **plugin_versions(registry)},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })
    else:
        run_dir.remove_leftovers()
        saved = run_dir.read_config()
        saved["config"] = config.to_dict()
        run_dir.write_config(saved)
    run = Run(config, registry, model, dataset, trainer, data, run_dir, history)
    return run, [spec.factory(run) for spec in specs]


def plugin_versions(registry) -> dict:
    """``{distribution: version}`` of every loaded plugin."""
    return {info.dist: info.version for info in registry.infos if info.status == "ok"}
