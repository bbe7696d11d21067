"""The test suite runs in parallel (``tox``: pytest-xdist, ``--dist loadgroup``): tests that must not overlap, or
that share an expensive fixture, are grouped into one worker by ``conftest.test_group``."""

from types import SimpleNamespace

import pytest

from conftest import test_group as group_of


def fake(nodeid, markers=(), module=None, fixtures=()):
    defs = {name: [SimpleNamespace(scope=scope, baseid=baseid)] for name, scope, baseid in fixtures}
    return SimpleNamespace(nodeid=nodeid, module=module or SimpleNamespace(),
                           get_closest_marker=lambda name: name if name in markers else None,
                           _fixtureinfo=SimpleNamespace(name2fixturedefs=defs))


def test_docker_tests_share_one_worker():
    assert group_of(fake("tests/test_x.py::test_a", markers=("docker",))) == "docker"
    assert group_of(fake("tests/test_slurm.py::test_a", markers=("slurm",))) == "slurm"


def test_tests_after_training_share_the_trained_runs():
    assert group_of(fake("tests/test_predict.py::test_a", module=SimpleNamespace(lenet_run=None))) == "trained-lenet"


def test_a_modules_own_expensive_fixture_keeps_its_tests_together():
    wheels = ("wheels", "module", "tests/test_install_alone.py")
    assert group_of(fake("tests/test_install_alone.py::test_a[x]", fixtures=[wheels])) == "tests/test_install_alone.py"
    # Function- and class-scoped fixtures, and the session fixtures of plugins (tmp_path_factory), spread freely.
    cheap = [("tmp_path", "function", "tests"), ("spec", "class", "plugins/x/test_x.py::TestX"),
             ("tmp_path_factory", "session", "")]
    assert group_of(fake("plugins/x/test_x.py::TestX::test_a", fixtures=cheap)) is None


@pytest.fixture(scope="module")
def shared():
    return object()


def test_this_suite_marks_its_own_items(shared, request):
    (mark,) = list(request.node.iter_markers("xdist_group"))
    assert mark.args == ("tests/test_suite_groups.py",)
