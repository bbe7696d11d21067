"""After training a regression model (the book's edge kernel, d2l 5.1): evaluate reports its loss,
predict refuses (it names classes), export writes an ONNX file that onnxruntime runs alike."""

import json

import numpy as np
import pytest

from conftest import cli


@pytest.fixture(scope="module", params=["mxnet", "torch"])
def edge_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"edge-{request.param}")
    result = cli("run", "edge-kernel", "edge-image", "--backend", request.param, "--epochs", "4",
                 "--reporter", "console", "--out", str(out))
    assert result.returncode == 0, result.stderr
    (folder,) = out.iterdir()
    return folder


def test_evaluate_reports_the_loss(edge_run):
    result = cli("evaluate", str(edge_run), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert "accuracy" not in printed and "confusion" not in printed
    first = json.loads((edge_run / "metrics.jsonl").read_text().splitlines()[0])["train_loss"]
    assert 0 <= printed["loss"] < first
    assert not (edge_run / "confusion.png").exists() and (edge_run / "evaluation.json").is_file()


def test_predict_refuses_a_regression_model(edge_run, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((6, 8), np.float32))
    result = cli("predict", str(edge_run), str(tmp_path / "x.npy"))
    assert result.returncode == 2
    assert result.stderr == ("cnnpipe: error: model 'edge-kernel' learns regression targets; predict names the "
                             "classes of classifiers only\n")


def test_onnx_export_runs_alike(edge_run, tmp_path):
    import onnxruntime

    from cnnpipe import inference
    from cnnpipe.registry import build_registry

    result = cli("export", str(edge_run), "--format", "onnx", "--out", str(tmp_path / "edge.onnx"))
    assert result.returncode == 0, result.stderr
    assert "output: the network's outputs" in result.stdout
    X = np.random.default_rng(0).random((5, 1, 6, 8), dtype=np.float32)
    (scores,) = onnxruntime.InferenceSession(str(tmp_path / "edge.onnx")).run(None, {"data": X})
    expected = inference.open_run(build_registry(), edge_run, whole_split=False).session.predict(X)
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
