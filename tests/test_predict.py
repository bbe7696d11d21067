"""``cnnpipe predict`` on real Fashion-MNIST test images written as PNG files: it agrees with ``evaluate``."""

import json

import numpy as np
import pytest

from conftest import cli
from trained import BACKENDS, copy_run, fashion_test_images, lenet_run

pytestmark = pytest.mark.real_data
N = 2000  # the runs' whole (limited) test split


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """The first N test images as PNG files, and their labels."""
    from PIL import Image

    X, y, _ = fashion_test_images(N)
    folder = tmp_path_factory.mktemp("pictures")
    files = []
    for i, image in enumerate(X):
        files.append(folder / f"{i:04d}.png")
        Image.fromarray(image[0]).save(files[-1])
    return files, y


@pytest.fixture(scope="module", params=BACKENDS)
def trained(request, tmp_path_factory):
    return lenet_run(request.param, tmp_path_factory)


def test_png_files_are_classified_as_evaluate_counts_them(trained, pictures, tmp_path):
    folder = copy_run(trained, tmp_path)
    files, labels = pictures
    evaluation = cli("evaluate", str(folder), "--json")
    assert evaluation.returncode == 0, evaluation.stderr
    result = cli("predict", str(folder), *map(str, files), "--json", "--top", "10")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["file"] for r in rows] == list(map(str, files))
    classes = json.loads(evaluation.stdout)["classes"]
    predicted = np.array([classes.index(r["predictions"][0]["class"]) for r in rows])
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    assert confusion.tolist() == json.loads(evaluation.stdout)["confusion"]
    probabilities = [p["probability"] for p in rows[0]["predictions"]]
    assert sum(probabilities) == pytest.approx(1) and probabilities == sorted(probabilities, reverse=True)


def test_npy_and_jpeg_and_colour_files(trained, pictures, tmp_path):
    from PIL import Image

    files, _ = pictures
    X, _, _ = fashion_test_images(4)
    np.save(tmp_path / "batch.npy", X[:, 0])  # (N, H, W) uint8
    np.save(tmp_path / "floats.npy", X[0, 0].astype(np.float32) / 255)  # one (H, W) image in [0, 1]
    Image.fromarray(X[1, 0]).convert("RGB").save(tmp_path / "colour.png")
    result = cli("predict", str(trained), str(tmp_path / "batch.npy"), str(tmp_path / "floats.npy"),
                 str(tmp_path / "colour.png"), *map(str, files[:4]), "--json", "--top", "1")
    assert result.returncode == 0, result.stderr
    rows = {r["file"].rsplit("/", 1)[1]: r["predictions"][0] for r in json.loads(result.stdout)}
    # The same class; probabilities to float32 rounding (PyTorch's CPU kernels vary with the batch).
    for name, same in [(f"batch.npy[{i}]", f"{i:04d}.png") for i in range(4)] + [("floats.npy", "0000.png"),
                                                                              ("colour.png", "0001.png")]:
        assert rows[name]["class"] == rows[same]["class"], name
        assert rows[name]["probability"] == pytest.approx(rows[same]["probability"], abs=1e-6), name


def test_bad_files_get_one_line_each_and_the_rest_are_classified(trained, pictures, tmp_path):
    from PIL import Image

    files, _ = pictures
    Image.new("L", (32, 32)).save(tmp_path / "big.png")
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "notes.txt").write_text("hello")
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    bad = [tmp_path / "big.png", tmp_path / "text.png", tmp_path / "notes.txt", tmp_path / "words.npy",
           tmp_path / "missing.png"]
    result = cli("predict", str(trained), str(files[0]), *map(str, bad), str(files[1]))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 6, result.stderr
    assert f"{tmp_path / 'big.png'}: 32x32 pixels; the model takes 28x28 pixels" in lines[0]
    assert f"{tmp_path / 'text.png'}: not a readable image" in lines[1]
    assert "notes.txt: unknown kind of file '.txt'" in lines[2]
    assert "words.npy: holds <U1 values" in lines[3]
    assert "missing.png: no such file" in lines[4]
    assert lines[5] == "cnnpipe: error: 5 of 7 file(s) could not be classified"
    assert [line.split()[0] for line in result.stdout.splitlines()] == [str(files[0]), str(files[1])]


def test_predict_needs_a_run_folder_and_files(tmp_path):
    result = cli("predict", str(tmp_path), str(tmp_path / "x.png"))
    assert result.returncode == 2 and "is not a cnnpipe run folder" in result.stderr
    result = cli("predict", str(tmp_path))
    assert result.returncode == 2 and "Missing argument 'FILES...'" in result.stderr


def claimed_png(path, width, height):
    """A valid 1x1 grayscale PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""
    import struct
    import zlib

    from PIL import Image

    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b"IHDR")
    data[start + 4:start + 12] = struct.pack(">II", width, height)
    data[start + 17:start + 21] = struct.pack(">I", zlib.crc32(bytes(data[start:start + 17])))
    path.write_bytes(bytes(data))
    return path


def hostile_files(folder):
    """Files that claim too much or hold what no network can classify, each with the words its line must say."""
    from PIL import Image

    nan = np.zeros((28, 28), np.float32)
    nan[3, 4] = np.nan
    Image.new("L", (28, 28)).save(folder / "cut.png")
    (folder / "cut.png").write_bytes((folder / "cut.png").read_bytes()[:45])
    with open(folder / "huge.npy", "wb") as f:  # a header claiming far more data than the file holds
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (99999999, 28, 28)})
        f.write(bytes(784))
    cases = {
        claimed_png(folder / "bomb.png", 100000, 100000): "claims too many pixels to read safely",
        claimed_png(folder / "tall.png", 28, 100000): "28x100000 pixels",
        folder / "cut.png": "cannot read the image",
        folder / "nan.npy": "not-a-number or infinite",
        folder / "inf.npy": "not-a-number or infinite",
        folder / "empty.npy": "holds no image",
        folder / "scalar.npy": "a 0-dimensional array",
        folder / "zero-bytes.npy": "an empty file",
        folder / "huge.npy": "not a readable .npy array",
        folder / "bools.npy": "holds bool values",
    }
    np.save(folder / "nan.npy", nan)
    np.save(folder / "inf.npy", np.full((2, 28, 28), np.inf, np.float32))
    np.save(folder / "empty.npy", np.zeros((0, 28, 28), np.float32))
    np.save(folder / "scalar.npy", np.float32(0.5))
    (folder / "zero-bytes.npy").write_bytes(b"")
    np.save(folder / "bools.npy", np.zeros((28, 28), bool))
    return cases


def test_hostile_files_are_one_line_each_and_the_good_ones_after_them_are_classified(trained, pictures, tmp_path):
    files, _ = pictures
    cases = hostile_files(tmp_path)
    result = cli("predict", str(trained), str(files[0]), *map(str, cases), str(files[1]))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(cases) + 1, result.stderr
    for line, (path, words) in zip(lines, cases.items()):
        assert line.startswith(f"cnnpipe: error: {path}: ") and words in line, (line, words)
    assert lines[-1] == f"cnnpipe: error: {len(cases)} of {len(cases) + 2} file(s) could not be classified"
    assert [line.split()[0] for line in result.stdout.splitlines()] == [str(files[0]), str(files[1])]
