import pytest

from cnnpipe.testing import ModelContract, conv_params as conv, shape_trace, traced

BOOK_SHAPES = [(1, 64, 24, 24), (1, 192, 12, 12), (1, 480, 6, 6), (1, 832, 3, 3), (1, 1024, 1, 1), (1, 10)]
# The book's Inception arguments (c1, c2, c3, c4), block by block.
B3 = [(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)]
B4 = [(192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
      (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)]
B5 = [(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)]


def googlenet_params(r=1, num_classes=10):
    """Weights and biases of the book's GoogLeNet with every channel count divided by ``r``."""
    total = conv(1, 64 // r, 7) + conv(64 // r, 64 // r, 1) + conv(64 // r, 192 // r, 3)
    c_in = 192 // r
    for c1, c2, c3, c4 in B3 + B4 + B5:
        c1, c2, c3, c4 = c1 // r, (c2[0] // r, c2[1] // r), (c3[0] // r, c3[1] // r), c4 // r
        total += conv(c_in, c1, 1) + conv(c_in, c2[0], 1) + conv(c2[0], c2[1], 3)
        total += conv(c_in, c3[0], 1) + conv(c3[0], c3[1], 5) + conv(c_in, c4, 1)
        c_in = c1 + c2[1] + c3[1] + c4
    return total + num_classes * (c_in + 1)


class TestGoogLeNet(ModelContract):
    model = "googlenet"
    # Every pooling window is padded, so any side works; 16 still passes 2x2 maps into b4.
    input_shape = (2, 1, 16, 16)
    # The kit's short real run: Adam on a slice of the real data, a quarter of the channels.
    real_run = ("--optimizer", "adam", "--lr", "0.001", "--limit", "1024", "--epochs", "2", "--batch-size", "16",
                "--resize", "32", "--set", "arch.ratio=4")


class TestNarrowGoogLeNet(ModelContract):
    model = "googlenet"
    input_shape = (2, 1, 16, 16)
    arch = {"ratio": 16}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_book_shapes(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("googlenet")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, spec.arch, spec.sample_shape)
    assert spec.sample_shape == (1, 1, 96, 96)
    assert [name for name, _ in layers][:5] == ["b1", "b2", "b3", "b4", "b5"]
    assert shape_trace(layers) == traced(BOOK_SHAPES)
    if backend == "mxnet":
        assert [shape for _, shape in layers] == BOOK_SHAPES
    assert num_params == googlenet_params() == 5_977_530


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_ratio_divides_every_channel_count(cnnpipe_registry, backend):
    spec = cnnpipe_registry.model("googlenet")
    layers, num_params = cnnpipe_registry.backend(backend).load().describe(spec, {"ratio": 4}, spec.sample_shape)
    assert shape_trace(layers) == traced([
        (1, 16, 24, 24), (1, 48, 12, 12), (1, 120, 6, 6), (1, 208, 3, 3), (1, 256, 1, 1), (1, 10)])
    assert num_params == googlenet_params(4)


def test_recipe_is_the_books(cnnpipe_registry):
    spec = cnnpipe_registry.model("googlenet")
    recipe = spec.recipes["fashion-mnist"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.resize, recipe.init) == (
        0.1, 128, 5, "sgd", 96, "xavier")
    assert spec.arch == {"ratio": 1}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_bad_ratio_is_a_one_line_error(cnnpipe_cli, backend):
    for setting in ("arch.ratio=0", "arch.ratio=17", "arch.ratio=wide"):
        result = cnnpipe_cli("info", "googlenet", "--backend", backend, "--set", setting)
        assert result.exit_code == 2, result.output
        assert "model 'googlenet' rejected its architecture arguments" in result.output
