"""``cnnpipe export``: ONNX files of both backends run in onnxruntime and match the framework to 1e-5;
MXNet's symbol files and TorchScript load back in their frameworks and match too."""

import numpy as np
import pytest

from conftest import cli
from trained import BACKENDS, copy_run, fashion_test_images, lenet_run

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module", params=BACKENDS)
def trained(request, tmp_path_factory):
    return lenet_run(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def images():
    X, _, _ = fashion_test_images(100)
    return X.astype(np.float32) / 255


def framework_scores(folder, X):
    """The scores of the run's own session (the path evaluate and predict take)."""
    from cnnpipe import inference
    from cnnpipe.registry import build_registry

    opened = inference.open_run(build_registry(), folder, whole_split=False)
    return opened.session.predict(X)


def test_onnx_matches_the_framework_in_onnxruntime(trained, images, tmp_path):
    import onnxruntime

    folder = copy_run(trained, tmp_path)
    result = cli("export", str(folder), "--format", "onnx")
    assert result.returncode == 0, result.stderr
    path = folder / "export" / "model.onnx"
    assert f"written: {path}" in result.stdout
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["data"]
    assert [o.name for o in session.get_outputs()] == ["scores"]
    (scores,) = session.run(None, {"data": images})
    expected = framework_scores(folder, images)
    assert scores.shape == (100, 10)
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    assert (scores.argmax(1) == expected.argmax(1)).all()
    assert sorted(p.name for p in (folder / "export").iterdir()) == ["model.onnx"]  # no leftovers


def test_native_format(trained, images, tmp_path):
    folder = copy_run(trained, tmp_path)
    config = (folder / "config.json").read_text()
    backend = "torch" if '"backend": "torch"' in config else "mxnet"
    out = tmp_path / "exported" / ("lenet-symbol.json" if backend == "mxnet" else "lenet.pt")
    result = cli("export", str(folder), "--format", "mxnet" if backend == "mxnet" else "torchscript", "--out", str(out))
    assert result.returncode == 0, result.stderr
    expected = framework_scores(folder, images)
    if backend == "mxnet":
        import mxnet as mx

        assert sorted(p.name for p in out.parent.iterdir()) == ["lenet-0000.params", "lenet-symbol.json"]
        net = mx.gluon.SymbolBlock.imports(str(out), ["data"], str(out.parent / "lenet-0000.params"))
        scores = net(mx.nd.array(images)).asnumpy()
    else:
        import torch

        assert sorted(p.name for p in out.parent.iterdir()) == ["lenet.pt"]
        with torch.no_grad():
            scores = torch.jit.load(str(out))(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)


def test_a_format_the_backend_cannot_write_is_one_line(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    config = (folder / "config.json").read_text()
    backend, other, offered = (("torch", "mxnet", "onnx, pt2, torchscript") if '"backend": "torch"' in config
                               else ("mxnet", "torchscript", "mxnet, onnx"))
    result = cli("export", str(folder), "--format", other)
    assert result.returncode == 2
    assert result.stderr == f"cnnpipe: error: backend '{backend}' cannot export {other}; it exports: {offered}\n"
    assert not (folder / "export").exists()


def test_a_checkpoint_exports_its_own_parameters(trained, images, tmp_path):
    import onnxruntime

    folder = copy_run(trained, tmp_path)
    result = cli("export", str(folder), "--format", "onnx", "--checkpoint", "1", "--out", str(tmp_path / "first"))
    assert result.returncode == 0, result.stderr
    (first,) = onnxruntime.InferenceSession(str(tmp_path / "first.onnx")).run(None, {"data": images})
    (folder / "model.params").unlink()
    (folder / "checkpoints" / "epoch-002").rename(tmp_path / "epoch-002")  # the newest is now epoch 1
    np.testing.assert_allclose(first, framework_scores(folder, images), rtol=0, atol=1e-5)
