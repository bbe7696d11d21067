"""A run as an MLflow run: the resolved configuration and versions as params, every epoch's metrics,
backend/model/dataset as tags, and ``config.json``, ``plot.png`` and ``model.params`` as artifacts.

The store is ``MLFLOW_TRACKING_URI``, else (resuming) the one the run logged to, else ``./mlruns``; the experiment ``MLFLOW_EXPERIMENT_NAME``, else
``cnnpipe``.  A resumed run goes on logging into the MLflow run it started (``mlflow.json`` in the run folder).
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

from cnnpipe.errors import UsageError
from cnnpipe.files import write_json
from cnnpipe.hookspecs import hookimpl

RECORD = "mlflow.json"
EXPERIMENT = "cnnpipe"
METRICS = ("train_loss", "train_acc", "test_acc", "time", "images_per_sec")
ARTIFACTS = ("config.json", "plot.png", "model.params")
PARAM_LIMIT = 500  # characters MLflow keeps of a param value in every store


def tracking_uri(run=None) -> str:
    """``MLFLOW_TRACKING_URI``; else, for a resumed run, the store it logged to (``mlflow.json``), so that a
    resume from another shell or folder goes on in the same MLflow run; else ``./mlruns``."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    record = run.run_dir.file(RECORD) if run is not None and run.run_dir is not None else None
    if record is not None and record.is_file():
        try:
            return json.loads(record.read_text())["tracking_uri"]
        except (ValueError, KeyError, TypeError):
            pass  # a damaged record: the run starts a new MLflow run, as without one
    return Path("mlruns").absolute().as_uri()


def local_folder(uri: str) -> Path | None:
    """The folder of a file store (``file:`` URI or plain path), ``None`` for other stores."""
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path))
    if "://" not in uri and not uri.startswith(("databricks", "sqlite:", "postgresql:", "mysql:")):
        return Path(uri)
    return None


@contextmanager
def one_try():
    """Within the block, MLflow's HTTP client tries once and waits 10 s at most (checking, not logging)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.update({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def reason(exc: BaseException) -> str:
    """The gist of a store error: the OS reason buried in it, else its first line."""
    text = str(exc).strip()
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if found:
        return found.group(1).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


DATABASES = ("sqlite:", "postgresql", "mysql", "mssql")


def check_database_store(uri: str) -> None:
    """A one-line error when ``uri`` names a database store and MLflow's SQL store cannot be imported."""
    if not uri.startswith(DATABASES):
        return
    import importlib.util

    missing = [name for name in ("sqlalchemy", "alembic") if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"reporter 'mlflow': the tracking URI {uri} is a database store, which needs "
                         f"{' and '.join(missing)}: pip install 'cnnpipe-mlflow[sqlite]' (from plugins/cnnpipe-mlflow)")


def connect(uri: str):
    """An ``MlflowClient`` for ``uri`` that has answered once; a one-line error when the store cannot be used."""
    from mlflow.tracking import MlflowClient

    check_database_store(uri)
    folder = local_folder(uri)
    if folder is not None:
        # MLflow 3 refuses a folder store unless told it is wanted; ./mlruns is this reporter's default.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"reporter 'mlflow' cannot use the MLflow store {folder}: {exc.strerror or exc}")
        if not os.access(folder, os.W_OK):
            raise UsageError(f"reporter 'mlflow' cannot write into the MLflow store {folder}")
    try:
        with one_try():
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)
    except Exception as exc:
        raise UsageError(f"reporter 'mlflow' cannot reach the MLflow tracking store {uri} ({reason(exc)}); "
                         "start it or point MLFLOW_TRACKING_URI at one")
    return client


def params(run) -> dict[str, str]:
    """The resolved configuration (``arch.NAME`` flattened) and the versions (``version.DIST``), as text."""
    config = run.config.to_dict()
    flat = {k: v for k, v in config.items() if k != "arch"}
    flat.update({f"arch.{k}": v for k, v in (config.get("arch") or {}).items()})
    flat.update({f"version.{k}": v for k, v in run.run_dir.read_config().get("versions", {}).items()})
    return {k: (json.dumps(v) if isinstance(v, (list, dict)) else str(v))[:PARAM_LIMIT] for k, v in flat.items()}


class MlflowReporter:
    """Logs one cnnpipe run into one MLflow run; only the process that writes the run folder logs."""

    def __init__(self, run):
        self.leader = run.world.leader
        self.uri = tracking_uri(run)
        self.client = connect(self.uri) if self.leader else None
        self.run_id = None

    @hookimpl
    def cnnpipe_on_run_start(self, run):
        if not self.leader:
            return
        record = run.run_dir.file(RECORD)
        if run.resumed and record.is_file():
            saved = json.loads(record.read_text())
            if saved.get("tracking_uri") == self.uri:
                self.run_id = saved["run_id"]
                self.client.update_run(self.run_id, status="RUNNING")
                self.client.set_tag(self.run_id, "cnnpipe.resumed_at_epoch", str(run.start_epoch))
                return
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        tags = {"backend": run.config.backend, "model": run.config.model, "dataset": run.config.dataset,
                "cnnpipe.run_dir": str(run.run_dir.path.absolute())}
        created = self.client.create_run(experiment_id, run_name=run.run_dir.path.name, tags=tags)
        self.run_id = created.info.run_id
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in params(run).items()])
        write_json(record, {"tracking_uri": self.uri, "experiment_id": experiment_id, "run_id": self.run_id})

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if self.run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = [Metric(k, float(metrics[k]), now, metrics["epoch"]) for k in METRICS if metrics.get(k) is not None]
        self.client.log_batch(self.run_id, metrics=values)

    @hookimpl
    def cnnpipe_on_run_end(self, run, summary):
        if self.run_id is None:
            return
        for name in ARTIFACTS:
            path = run.run_dir.file(name)
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, "FINISHED")

    @hookimpl
    def cnnpipe_on_run_failed(self, run, error):
        if self.run_id is None:
            return
        self.client.set_tag(self.run_id, "cnnpipe.error", f"{type(error).__name__}: {error}"[:PARAM_LIMIT])
        self.client.set_terminated(self.run_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
