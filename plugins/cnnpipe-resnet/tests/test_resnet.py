import pytest

from cnnpipe.testing import ModelContract, batchnorm_params as bn, conv_params as conv, shape_trace, traced

BOOK_SHAPES = [
    (1, 64, 112, 112), (1, 64, 112, 112), (1, 64, 112, 112), (1, 64, 56, 56),
    (1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7),
    (1, 512, 1, 1), (1, 10),
]


class TestResNet18(ModelContract):
    model = "resnet18"
    input_shape = (4, 1, 32, 32)
    # The kit's short real run: Adam on a slice of the real data, a quarter of the channels.
    real_run = ("--optimizer", "adam", "--lr", "0.001", "--limit", "512", "--epochs", "2", "--batch-size", "16",
                "--resize", "32", "--set", "arch.num_channels=[16, 32, 64, 128]")


def residual(cin, cout, use_1x1conv):
    return conv(cin, cout, 3) + bn(cout) + conv(cout, cout, 3) + bn(cout) + (conv(cin, cout, 1) if use_1x1conv else 0)


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes_and_parameter_count(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("resnet18")
    assert spec.sample_shape == (1, 1, 224, 224)
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, spec.sample_shape)
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES
    expected = (conv(1, 64, 7) + bn(64)
                + residual(64, 64, False) * 2
                + residual(64, 128, True) + residual(128, 128, False)
                + residual(128, 256, True) + residual(256, 256, False)
                + residual(256, 512, True) + residual(512, 512, False)
                + 10 * (512 + 1))
    assert num_params == expected == 11_186_186


def test_residual_block_shapes():
    from mxnet import nd

    from cnnpipe_resnet.blocks import Residual

    X = nd.random.uniform(shape=(4, 3, 6, 6))
    same = Residual(3)
    same.initialize()
    assert same(X).shape == (4, 3, 6, 6)
    halved = Residual(6, use_1x1conv=True, strides=2)
    halved.initialize()
    assert halved(X).shape == (4, 6, 3, 3)


def test_recipe_is_the_books(cnnpipe_registry):
    recipe = cnnpipe_registry.model("resnet18").recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.init, recipe.resize) == (
        0.05, 256, 5, "sgd", "xavier", 96)


def test_architecture_arguments(cnnpipe_registry):
    from mxnet import nd

    spec = cnnpipe_registry.model("resnet18")
    net = spec.builds["mxnet"](num_classes=10, num_channels=[16, 32], num_residuals=[1, 1])
    net.initialize()
    assert net(nd.zeros((1, 1, 64, 64))).shape == (1, 10)
    assert len(net) == 4 + 2 + 2


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_mismatched_stages_are_a_usage_error(cnnpipe_cli, backend):
    result = cnnpipe_cli("info", "resnet18", "--backend", backend, "--set", "arch.num_residuals=[2, 2]")
    assert result.exit_code == 2
    assert "num_channels and num_residuals" in result.output
