import pytest

from cnnpipe.testing import ModelContract, conv_params as conv, dense_params as dense, shape_trace, traced

VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
HEAD = [(1, 4096), (1, 4096), (1, 4096), (1, 4096), (1, 10)]


def vgg_params(conv_arch, ratio, side, c_in=1, num_classes=10):
    """Weights and biases of every layer; ``side`` is the height of the last block's output."""
    total = 0
    for num_convs, channels in conv_arch:
        for _ in range(num_convs):
            total += conv(c_in, channels // ratio, 3)
            c_in = channels // ratio
    return total + dense(c_in * side * side, 4096) + dense(4096, 4096) + dense(4096, num_classes)


def describe(registry, arch, shape, backend="mxnet"):
    """Names and shapes of the top-level layers (PyTorch's where the shape changes), and the parameter count."""
    spec = registry.model("vgg")
    layers, num_params = registry.backend(backend).load().describe(spec, {**spec.arch, **arch}, shape)
    if backend != "mxnet":
        return [name for name, _ in layers], shape_trace(layers), num_params
    return [name for name, _ in layers], [out for _, out in layers], num_params


def book(expected, backend):
    return expected if backend == "mxnet" else traced(expected)


class TestVGG(ModelContract):
    model = "vgg"
    # Five 2x2 max-pools halve the side five times: 32 is the smallest input.
    input_shape = (2, 1, 32, 32)
    # The kit's short real run: Adam on a slice of the real data, an eighth of the channels.
    real_run = ("--optimizer", "adam", "--lr", "0.0005", "--limit", "512", "--epochs", "2", "--batch-size", "16",
                "--resize", "32", "--set", "arch.ratio=8")


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes_of_vgg11(cnnpipe_registry, backend):
    names, shapes, num_params = describe(cnnpipe_registry, {"ratio": 1}, (1, 1, 224, 224), backend)
    assert names[:5] == [f"vgg_block{i}" for i in range(5)]
    assert shapes == book([(1, 64, 112, 112), (1, 128, 56, 56), (1, 256, 28, 28), (1, 512, 14, 14), (1, 512, 7, 7)] + HEAD, backend)
    assert num_params == vgg_params(VGG11, 1, 7)


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes_of_the_small_net(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("vgg")
    assert spec.sample_shape == (1, 1, 224, 224)
    _, shapes, num_params = describe(cnnpipe_registry, {}, spec.sample_shape, backend)
    assert shapes == book([(1, 16, 112, 112), (1, 32, 56, 56), (1, 64, 28, 28), (1, 128, 14, 14), (1, 128, 7, 7)] + HEAD, backend)
    assert num_params == vgg_params(VGG11, 4, 7) == 43_093_322


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_conv_arch_sets_the_blocks(cnnpipe_registry, backend):
    # A TOML list of pairs, as --set arch.conv_arch=[[1,8],[2,16]] gives it.
    _, shapes, num_params = describe(cnnpipe_registry, {"conv_arch": [[1, 8], [2, 16]], "ratio": 2}, (1, 1, 28, 28), backend)
    assert shapes == book([(1, 4, 14, 14), (1, 8, 7, 7)] + HEAD, backend)
    assert num_params == vgg_params([[1, 8], [2, 16]], 2, 7)


def test_recipe_is_the_books(cnnpipe_registry):
    spec = cnnpipe_registry.model("vgg")
    recipe = spec.recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.resize, recipe.init) == (
        0.05, 128, 5, "sgd", 224, "xavier")
    assert spec.arch == {"conv_arch": VGG11, "ratio": 4, "dropout": 0.5}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_bad_architecture_arguments_are_one_line_errors(cnnpipe_cli, backend):
    for setting in ("arch.ratio=0", "arch.ratio=128", "arch.conv_arch=[[1,64,3]]", "arch.conv_arch=[]",
                    "arch.conv_arch=[[0,64]]", "arch.conv_arch=5", "arch.dropout=1"):
        result = cnnpipe_cli("info", "vgg", "--backend", backend, "--set", setting)
        assert result.exit_code == 2, (setting, result.output)
        assert "model 'vgg' rejected its architecture arguments" in result.output
        assert "Traceback" not in result.output
