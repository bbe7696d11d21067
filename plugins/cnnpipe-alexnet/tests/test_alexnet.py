import pytest

from cnnpipe.testing import ModelContract, conv_params as conv, dense_params as dense, shape_trace, traced

BOOK_SHAPES = [
    (1, 96, 54, 54), (1, 96, 26, 26), (1, 256, 26, 26), (1, 256, 12, 12), (1, 384, 12, 12),
    (1, 384, 12, 12), (1, 256, 12, 12), (1, 256, 5, 5), (1, 4096), (1, 4096), (1, 4096), (1, 4096), (1, 10),
]


def alexnet_params(c_in, side, hidden, num_classes=10):
    """Weights and biases of every layer; ``side`` is the height of the last pool's output."""
    convs = conv(c_in, 96, 11) + conv(96, 256, 5) + conv(256, 384, 3) + conv(384, 384, 3) + conv(384, 256, 3)
    return convs + dense(256 * side * side, hidden) + dense(hidden, hidden) + dense(hidden, num_classes)


class TestAlexNet(ModelContract):
    model = "alexnet"
    # 67 is the smallest side that leaves the third 3x3/2 max-pool a 3x3 window: 67 -> 15 -> 7 -> 3 -> 1.
    input_shape = (2, 1, 67, 67)
    # The kit's short real run: Adam on a slice of the real data, dense layers of 512.
    real_run = ("--optimizer", "adam", "--lr", "0.001", "--limit", "1024", "--epochs", "2", "--batch-size", "16",
                "--resize", "67", "--set", "arch.hidden=512")


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("alexnet")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, spec.sample_shape)
    assert spec.sample_shape == (1, 1, 224, 224)
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES
    assert num_params == alexnet_params(1, 5, 4096) == 46_764_746


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_hidden_sets_the_dense_width(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("alexnet")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, {**spec.arch, "hidden": 64}, (1, 1, 67, 67))
    assert shape_trace(layers)[-3:] == [(1, 256, 1, 1), (1, 64), (1, 10)]
    assert num_params == alexnet_params(1, 1, 64)


def test_recipe_is_the_books(cnnpipe_registry):
    spec = cnnpipe_registry.model("alexnet")
    recipe = spec.recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.resize, recipe.init) == (
        0.01, 128, 5, "sgd", 224, "xavier")
    assert spec.arch == {"hidden": 4096, "dropout": 0.5}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_bad_architecture_arguments_are_one_line_errors(cnnpipe_cli, backend):
    for setting in ("arch.dropout=1.5", "arch.hidden=0", "arch.hidden=2.5"):
        result = cnnpipe_cli("info", "alexnet", "--backend", backend, "--set", setting)
        assert result.exit_code == 2, result.output
        assert "model 'alexnet' rejected its architecture arguments" in result.output
        assert "Traceback" not in result.output
