"""The ``mlflow`` reporter.  MLflow is imported only when a run uses the reporter."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def make(run):
    """The reporter of ``run``, its tracking store checked (a store that cannot be reached stops the run now)."""
    from .reporter import MlflowReporter

    return MlflowReporter(run)


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec(
        "mlflow", make,
        summary="MLflow tracking: params, per-epoch metrics, plot and parameters (MLFLOW_TRACKING_URI, else ./mlruns)",
    ))
