import pytest

from cnnpipe.testing import ModelContract, conv_params as conv, shape_trace, traced

BOOK_SHAPES = [
    (1, 96, 54, 54), (1, 96, 26, 26), (1, 256, 26, 26), (1, 256, 12, 12), (1, 384, 12, 12),
    (1, 384, 5, 5), (1, 384, 5, 5), (1, 10, 5, 5), (1, 10, 1, 1), (1, 10),
]


def nin_block(c_in, c_out, k):
    return conv(c_in, c_out, k) + 2 * conv(c_out, c_out, 1)


class TestNiN(ModelContract):
    model = "nin"
    # 67 is the smallest side that leaves the third 3x3/2 max-pool a 3x3 window: 67 -> 15 -> 7 -> 3 -> 1.
    input_shape = (2, 1, 67, 67)
    # The kit's short real run: Adam on a slice of the real data.  NiN sits at chance for up to an epoch
    # before it starts to learn, so it gets a third: the loss then falls 20-35% on seeds 0-4 on both backends.
    real_run = ("--optimizer", "adam", "--lr", "0.001", "--limit", "3000", "--epochs", "3", "--batch-size", "32",
                "--resize", "67")


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("nin")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, spec.sample_shape)
    assert spec.sample_shape == (1, 1, 224, 224)
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    assert [name for name, _ in layers if name.startswith("nin_block")] == [f"nin_block{i}" for i in range(4)]
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES
    # No dense layer: the count does not depend on the input size.
    assert num_params == nin_block(1, 96, 11) + nin_block(96, 256, 5) + nin_block(256, 384, 3) + nin_block(384, 10, 3) == 1_992_166


def test_recipe_is_the_books(cnnpipe_registry):
    spec = cnnpipe_registry.model("nin")
    recipe = spec.recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.resize, recipe.init) == (
        0.1, 128, 5, "sgd", 224, "xavier")
    assert spec.arch == {"dropout": 0.5}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_bad_dropout_is_a_one_line_error(cnnpipe_cli, backend):
    result = cnnpipe_cli("info", "nin", "--backend", backend, "--set", "arch.dropout=-0.1")
    assert result.exit_code == 2, result.output
    assert "model 'nin' rejected its architecture arguments" in result.output
    assert "Traceback" not in result.output
