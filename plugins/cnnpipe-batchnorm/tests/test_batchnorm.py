import pytest

from cnnpipe.testing import ModelContract, shape_trace, traced

BOOK_SHAPES = [
    (1, 6, 24, 24), (1, 6, 24, 24), (1, 6, 24, 24), (1, 6, 12, 12),
    (1, 16, 8, 8), (1, 16, 8, 8), (1, 16, 8, 8), (1, 16, 4, 4),
    (1, 120), (1, 120), (1, 120),
    (1, 84), (1, 84), (1, 84),
    (1, 10),
]


class TestLeNetBNScratch(ModelContract):
    model = "lenet-bn-scratch"
    input_shape = (4, 1, 28, 28)
    # The kit's short real run: Adam on a slice of the real data.
    real_run = ("--optimizer", "adam", "--lr", "0.002", "--limit", "1000", "--epochs", "2", "--batch-size", "32")


class TestLeNetBN(ModelContract):
    model = "lenet-bn"
    input_shape = (4, 1, 28, 28)
    # The kit's short real run: Adam on a slice of the real data.
    real_run = ("--optimizer", "adam", "--lr", "0.002", "--limit", "1000", "--epochs", "2", "--batch-size", "32")


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
@pytest.mark.parametrize("name", ["lenet-bn-scratch", "lenet-bn"])
def test_book_shapes_and_parameter_count(cnnpipe_registry, name, backend):
    spec = cnnpipe_registry.model(name)
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, spec.sample_shape)
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES

    def conv(cin, cout, k):
        return cout * (cin * k * k + 1)

    def dense(nin, nout):
        return nout * (nin + 1)

    # gamma, beta, moving mean and moving variance per channel or feature
    def bn(c):
        return 4 * c

    expected = (conv(1, 6, 5) + bn(6) + conv(6, 16, 5) + bn(16) + dense(16 * 4 * 4, 120) + bn(120)
                + dense(120, 84) + bn(84) + dense(84, 10))
    assert num_params == expected == 45_330


@pytest.mark.parametrize("name", ["lenet-bn-scratch", "lenet-bn"])
def test_recipe_is_the_books(cnnpipe_registry, name):
    recipe = cnnpipe_registry.model(name).recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.init, recipe.resize) == (
        1.0, 256, 5, "sgd", "xavier", None)


def test_architecture_argument_reaches_the_network(cnnpipe_registry):
    net = cnnpipe_registry.model("lenet-bn-scratch").builds["mxnet"](num_classes=10, activation="relu")
    assert "relu" in repr(net[2])
