import pytest

from cnnpipe.testing import ModelContract, shape_trace, traced

BOOK_SHAPES = [(1, 6, 24, 24), (1, 6, 12, 12), (1, 16, 8, 8), (1, 16, 4, 4), (1, 120), (1, 84), (1, 10)]


class TestLeNet(ModelContract):
    model = "lenet"
    input_shape = (4, 1, 28, 28)
    # The kit's short real run: Adam on a slice of the real data.
    real_run = ("--optimizer", "adam", "--lr", "0.002", "--limit", "3000", "--epochs", "2", "--batch-size", "16")


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("lenet")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, (1, 1, 28, 28))
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES
    # 6*(25+1) + 16*(6*25+1) + 120*(256+1) + 84*(120+1) + 10*(84+1)
    assert num_params == 156 + 2416 + 30840 + 10164 + 850 == 44_426


def test_recipe_is_the_books(cnnpipe_registry):
    recipe = cnnpipe_registry.model("lenet").recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer) == (0.9, 256, 5, "sgd")
