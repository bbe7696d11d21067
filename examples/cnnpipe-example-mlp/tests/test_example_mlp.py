from cnnpipe.testing import ModelContract


class TestMLP(ModelContract):
    model = "mlp"
    input_shape = (4, 1, 28, 28)
    real_run = ("--limit", "1000", "--epochs", "2", "--batch-size", "32")


def test_hidden_width_is_an_architecture_argument(cnnpipe_registry):
    spec = cnnpipe_registry.model("mlp")
    layers, num_params = cnnpipe_registry.backend("mxnet").load().describe(spec, {"hidden": 32}, (1, 1, 28, 28))
    assert [shape for _, shape in layers] == [(1, 32), (1, 10)]
    assert num_params == 784 * 32 + 32 + 32 * 10 + 10
