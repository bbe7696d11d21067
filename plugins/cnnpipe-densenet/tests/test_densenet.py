import pytest

from cnnpipe.testing import ModelContract, batchnorm_params as bn, conv_params as conv, shape_trace, traced

BOOK_SHAPES = [
    (1, 64, 48, 48), (1, 64, 48, 48), (1, 64, 48, 48), (1, 64, 24, 24),
    (1, 192, 24, 24), (1, 96, 12, 12),
    (1, 224, 12, 12), (1, 112, 6, 6),
    (1, 240, 6, 6), (1, 120, 3, 3),
    (1, 248, 3, 3),
    (1, 248, 3, 3), (1, 248, 3, 3), (1, 248, 1, 1), (1, 10),
]


class TestDenseNet(ModelContract):
    model = "densenet"
    input_shape = (4, 1, 32, 32)
    # The kit's short real run: Adam on a slice of the real data.
    real_run = ("--optimizer", "adam", "--lr", "0.001", "--limit", "512", "--epochs", "2", "--batch-size", "16", "--resize", "32")


def dense_block(cin, num_convs, growth_rate):
    return sum(bn(cin + j * growth_rate) + conv(cin + j * growth_rate, growth_rate, 3) for j in range(num_convs))


def transition(cin, cout):
    return bn(cin) + conv(cin, cout, 1)


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes_and_parameter_count(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("densenet")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, (1, 1, 96, 96))
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES
    expected = (conv(1, 64, 7) + bn(64)
                + dense_block(64, 4, 32) + transition(192, 96)
                + dense_block(96, 4, 32) + transition(224, 112)
                + dense_block(112, 4, 32) + transition(240, 120)
                + dense_block(120, 4, 32)
                + bn(248) + 10 * (248 + 1))
    assert num_params == expected == 764_834


def test_dense_block_concatenates_channels():
    from mxnet import nd

    from cnnpipe_densenet.blocks import DenseBlock, transition_block

    blk = DenseBlock(2, 10)
    blk.initialize()
    Y = blk(nd.random.uniform(shape=(4, 3, 8, 8)))
    assert Y.shape == (4, 23, 8, 8)  # the book's example
    trans = transition_block(10)
    trans.initialize()
    assert trans(Y).shape == (4, 10, 4, 4)


def test_recipe_is_the_books(cnnpipe_registry):
    recipe = cnnpipe_registry.model("densenet").recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.init, recipe.resize) == (
        0.1, 256, 5, "sgd", "xavier", 96)


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_architecture_arguments(cnnpipe_cli, backend):
    result = cnnpipe_cli("info", "densenet", "--backend", backend, "--set", "arch.growth_rate=8",
                         "--set", "arch.num_convs_in_dense_blocks=[2, 2]")
    assert result.exit_code == 0, result.output
    # 64 + 2*8 = 80, halved to 40, + 2*8 = 56
    assert "(1, 80, 24, 24)" in result.output and "(1, 56, 12, 12)" in result.output


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_bad_growth_rate_is_a_usage_error(cnnpipe_cli, backend):
    result = cnnpipe_cli("info", "densenet", "--backend", backend, "--set", "arch.growth_rate=0")
    assert result.exit_code == 2
    assert "growth_rate" in result.output
