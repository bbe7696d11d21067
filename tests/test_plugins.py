"""Plugin loading through entry points: listing, isolation of broken plugins, clashes, disabling."""

import json

import pytest

from cnnpipe.errors import UsageError
from cnnpipe.registry import build_registry

from conftest import cli

EXTRA_MODEL = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

def build(num_classes=10):
    from mxnet.gluon import nn
    net = nn.HybridSequential()
    net.add(nn.Dense(num_classes))
    return net

@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec("softmax", {"mxnet": build}, recipes={"tiny": Recipe(lr=0.1, batch_size=64, epochs=1)},
                       summary="softmax regression"))
'''


def collect(registry_warnings):
    return lambda message: registry_warnings.append(message)


def test_builtin_plugins_load_like_installed_ones():
    reg = build_registry(warn=pytest.fail)
    names = {info.name: info for info in reg.infos}
    assert names["reporters"].dist == "cnnpipe" and names["reporters"].status == "ok"
    assert names["mxnet"].dist == "cnnpipe-mxnet" and names["torch"].dist == "cnnpipe-torch"
    assert [n for n in reg.names("reporters") if reg.reporter(n).dist == "cnnpipe"] == ["console", "plot"]
    assert reg.names("backends") == ["mxnet", "torch"]
    assert "lenet" in reg.names("models") and "fashion-mnist" in reg.names("datasets")


def test_installed_plugin_is_listed_with_its_distribution(install_plugin):
    install_plugin("cnnpipe-softmax", {"softmax_plugin": EXTRA_MODEL}, {"softmax": "softmax_plugin"}, version="2.5")
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    row = next(r for r in json.loads(result.stdout) if r["name"] == "softmax")
    assert (row["dist"], row["version"], row["status"]) == ("cnnpipe-softmax", "2.5", "ok")
    assert row["registers"] == {"models": ["softmax"]}
    listed = cli("list", "models").stdout
    assert "softmax" in listed and "[cnnpipe-softmax]" in listed


def test_plugin_that_fails_to_import_is_skipped_with_one_warning(install_plugin):
    install_plugin("cnnpipe-broken", {"broken_plugin": "raise ImportError('no module named torch')"},
                   {"broken": "broken_plugin"})
    result = cli("list", "models")
    assert result.returncode == 0
    assert "lenet" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line]
    assert len(warnings) == 1
    assert "plugin 'broken' from cnnpipe-broken is broken" in warnings[0]
    assert "Traceback" not in result.stderr
    rows = json.loads(cli("plugins", "--json").stdout)
    broken = next(r for r in rows if r["name"] == "broken")
    assert broken["status"] == "broken" and "no module named torch" in broken["error"]


def test_misspelt_hook_breaks_only_its_plugin(install_plugin):
    source = "from cnnpipe.hookspecs import hookimpl\n\n@hookimpl\ndef cnnpipe_register_model(register):\n    pass\n"
    install_plugin("cnnpipe-typo", {"typo_plugin": source}, {"typo": "typo_plugin"})
    warnings = []
    reg = build_registry(warn=warnings.append)
    assert any("'typo' from cnnpipe-typo is broken" in w and "cnnpipe_register_model" in w for w in warnings)
    assert "lenet" in reg.names("models")


def test_wrong_signature_breaks_only_its_plugin(install_plugin):
    source = "from cnnpipe.hookspecs import hookimpl\n\n@hookimpl\ndef cnnpipe_register_models(register, extra):\n    pass\n"
    install_plugin("cnnpipe-sig", {"sig_plugin": source}, {"sig": "sig_plugin"})
    warnings = []
    build_registry(warn=warnings.append)
    assert len(warnings) == 1 and "'sig' from cnnpipe-sig is broken" in warnings[0]


def test_registration_that_raises_keeps_nothing_of_the_plugin(install_plugin):
    source = EXTRA_MODEL + "\n@hookimpl\ndef cnnpipe_register_datasets(register):\n    register('not a spec')\n"
    install_plugin("cnnpipe-half", {"half_plugin": source}, {"half": "half_plugin"})
    warnings = []
    reg = build_registry(warn=warnings.append)
    assert "softmax" not in reg.names("models")
    assert any("takes a DatasetSpec" in w for w in warnings)


def test_two_plugins_registering_one_name_is_an_error_naming_both(install_plugin):
    install_plugin("cnnpipe-one", {"one_plugin": EXTRA_MODEL}, {"one": "one_plugin"})
    install_plugin("cnnpipe-two", {"two_plugin": EXTRA_MODEL}, {"two": "two_plugin"})
    warnings = []
    reg = build_registry(warn=warnings.append)
    assert any("'softmax' is registered by both cnnpipe-one and cnnpipe-two" in w for w in warnings)
    with pytest.raises(UsageError, match="both cnnpipe-one and cnnpipe-two"):
        reg.model("softmax")
    result = cli("run", "softmax", "fashion-mnist")
    assert result.returncode == 2
    assert "both cnnpipe-one and cnnpipe-two" in result.stderr.splitlines()[-1]
    # Disabling one of them settles it.
    assert build_registry(disable=["two"], warn=pytest.fail).model("softmax").dist == "cnnpipe-one"


def test_disable_by_option_and_environment(install_plugin):
    install_plugin("cnnpipe-softmax", {"softmax_plugin": EXTRA_MODEL}, {"softmax": "softmax_plugin"})
    assert "softmax" not in cli("--disable-plugin", "softmax", "list", "models").stdout
    assert "softmax" not in cli("list", "models", env={"CNNPIPE_DISABLE_PLUGINS": "softmax,other"}).stdout
    rows = json.loads(cli("--disable-plugin", "lenet", "plugins", "--json").stdout)
    assert next(r for r in rows if r["name"] == "lenet")["status"] == "disabled"
    result = cli("--disable-plugin", "lenet", "run", "lenet", "fashion-mnist")
    assert result.returncode == 2 and "unknown model 'lenet'" in result.stderr


def test_builtin_plugins_can_be_disabled_too():
    result = cli("--disable-plugin", "reporters", "list", "reporters")
    assert result.returncode == 0 and "[cnnpipe]" not in result.stdout  # installed trackers may remain
