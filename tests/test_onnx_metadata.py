"""Exported ONNX files carry class names and the training preprocessing; ``cnnpipe predict model.onnx FILES``
runs them in onnxruntime alone and agrees with the run folder's own predictions."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from PIL import Image

from cnnpipe.onnxfile import resize_aligned

CLASSES = ["cyan", "magenta", "yellow"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A colour image folder of 16x16 pictures (3 classes x 6), and three loose pictures to classify."""
    root = tmp_path_factory.mktemp("onnx-pictures")
    rng = np.random.default_rng(1)
    loose = []
    for k, name in enumerate(CLASSES):
        (root / "data" / name).mkdir(parents=True)
        for i in range(7):
            pixels = rng.integers(0, 80, (16, 16, 3))
            pixels[..., k] += 150
            target = root / "data" / name / f"{i}.png" if i < 6 else root / f"{name}.png"
            Image.fromarray(pixels.astype(np.uint8)).save(target)
        loose.append(str(root / f"{name}.png"))
    return root / "data", loose


def predictions(result):
    assert result.exit_code == 0, result.output
    return {row["file"]: {p["class"]: p["probability"] for p in row["predictions"]} for row in json.loads(result.stdout)}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_onnx_predicts_as_the_run_does(backend, pictures, tmp_path, cnnpipe_cli):
    folder, loose = pictures
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--backend", backend,
                         "--epochs", "2", "--batch-size", "4", "--lr", "0.1", "--resize", "24",
                         "--set", "arch.activation=relu", "--reporter", "console", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    model = tmp_path / "lenet.onnx"
    assert cnnpipe_cli("export", str(run), "--format", "onnx", "--out", str(model)).exit_code == 0
    props = {p.key: json.loads(p.value) for p in onnx.load(str(model)).metadata_props}
    assert props["cnnpipe.classes"] == CLASSES
    assert props["cnnpipe.input"] == [3, 16, 16] and props["cnnpipe.resize"] == 24
    assert props["cnnpipe.resize_mode"] == "bilinear-align-corners" and props["cnnpipe.scaling"] == "divide-255"
    from_run = predictions(cnnpipe_cli("predict", str(run), *loose, "--json", "--top", "3"))
    from_file = predictions(cnnpipe_cli("predict", str(model), *loose, "--json", "--top", "3"))
    assert from_run.keys() == from_file.keys()
    for name in from_run:
        assert from_run[name].keys() == set(CLASSES)
        for cls, p in from_run[name].items():
            assert abs(from_file[name][cls] - p) < 1e-5, (name, cls)


def test_an_onnx_file_without_metadata_is_one_line(tmp_path, cnnpipe_cli):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["data"], ["scores"])], "g",
                              [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "bare.onnx"))
    (tmp_path / "x.npy").write_bytes(b"")
    result = cnnpipe_cli("predict", str(tmp_path / "bare.onnx"), str(tmp_path / "x.npy"))
    assert result.exit_code == 2
    assert "lacks cnnpipe's metadata (cnnpipe.classes); export it again with cnnpipe export --format onnx" in result.output


def test_resize_matches_the_torch_backend():
    import torch

    from cnnpipe_torch.layers import resized

    X = np.random.default_rng(0).random((2, 3, 16, 13)).astype(np.float32)
    expected = resized(torch.from_numpy(X), 24).numpy()
    np.testing.assert_allclose(resize_aligned(X, 24), expected, rtol=0, atol=1e-6)


def test_pt2_is_torch_export_program(pictures, tmp_path, cnnpipe_cli):
    import torch

    folder, _ = pictures
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--backend", "torch", "--epochs", "1",
                         "--batch-size", "4", "--reporter", "console", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert cnnpipe_cli("export", str(run), "--format", "pt2", "--out", str(tmp_path / "m")).exit_code == 0
    assert cnnpipe_cli("export", str(run), "--format", "onnx", "--out", str(tmp_path / "m")).exit_code == 0
    X = np.random.default_rng(0).random((5, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        scores = torch.export.load(str(tmp_path / "m.pt2")).module()(torch.from_numpy(X)).numpy()
    import onnxruntime

    (expected,) = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"data": X})
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    note = cnnpipe_cli("export", str(run), "--format", "torchscript", "--out", str(tmp_path / "m"))
    assert note.exit_code == 0 and "PyTorch deprecates TorchScript; --format pt2" in note.output


def test_evaluate_an_exported_file(pictures, tmp_path, cnnpipe_cli):
    folder, _ = pictures
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--backend", "mxnet", "--epochs", "1",
                         "--batch-size", "4", "--resize", "20", "--set", "data.test_fraction=0.5",
                         "--reporter", "console", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert cnnpipe_cli("export", str(run), "--format", "onnx", "--out", str(tmp_path / "m")).exit_code == 0
    own = cnnpipe_cli("evaluate", str(run), "--json")
    exported = cnnpipe_cli("evaluate", str(tmp_path / "m.onnx"), "--data-dir", str(folder), "--json")
    assert own.exit_code == 0 and exported.exit_code == 0, exported.output
    own, exported = json.loads(own.stdout), json.loads(exported.stdout)
    assert exported["examples"] == own["examples"] == 9  # data.test_fraction=0.5 came from the file's metadata
    assert exported["confusion"] == own["confusion"] and abs(exported["loss"] - own["loss"]) < 1e-5
    assert exported["accuracy"] == own["accuracy"]


def test_predict_resizes_pictures_as_the_dataset_decoded_them(pictures, tmp_path, cnnpipe_cli):
    folder, loose = pictures
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--backend", "torch", "--epochs", "1",
                         "--batch-size", "4", "--set", "data.size=20", "--reporter", "console", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    big = tmp_path / "big.png"
    Image.open(loose[0]).resize((40, 30)).save(big)
    answer = cnnpipe_cli("predict", str(run), str(big), loose[1], "--json")
    assert answer.exit_code == 0, answer.output
    assert [row["file"] for row in json.loads(answer.stdout)] == [str(big), loose[1]]
