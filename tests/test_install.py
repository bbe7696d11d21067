"""``cnnpipe install`` / ``uninstall`` with pip in cnnpipe's own interpreter: a throwaway plugin from a local
folder, in a throwaway environment that sees this one's packages (no package index is asked)."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from plugin_source import plugin_source

PLUGIN = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec


class Quiet:
    def __init__(self, run):
        pass


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("quiet", Quiet, summary="observes nothing"))
'''


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A new environment whose own site-packages come first, then this environment's (cnnpipe and the rest)."""
    root = tmp_path_factory.mktemp("venv")
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    # Without pip or setuptools of its own: those of this environment are newer, and no index is asked.
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True)
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # addsitedir, not a plain path: this environment's editable installs live in its own .pth files.
    (Path(site) / "zz-parent.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


@pytest.fixture
def plugin(tmp_path):
    src = plugin_source(tmp_path, "cnnpipe-quiet", PLUGIN, version="0.0.3")
    return src


def cnnpipe(python, *args):
    # Offline: no index, and the build uses the setuptools already installed.
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([str(python), "-m", "cnnpipe", *args], capture_output=True, text=True, env=env, timeout=300)


def test_install_shows_what_the_plugin_registers_and_uninstall_removes_it(venv, plugin):
    assert "quiet" not in cnnpipe(venv, "list", "reporters").stdout
    result = cnnpipe(venv, "install", str(plugin))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "installed cnnpipe-quiet 0.0.3, plugin 'quiet': reporters: quiet"
    assert "quiet" in cnnpipe(venv, "list", "reporters").stdout
    installed_in = subprocess.run([str(venv), "-c", "import cnnpipe_quiet; print(cnnpipe_quiet.__file__)"],
                                  capture_output=True, text=True).stdout
    assert installed_in.startswith(str(venv.parent.parent))  # into cnnpipe's own environment, not this one
    assert sorted(p.name for p in plugin.iterdir()) == ["cnnpipe_quiet", "pyproject.toml"]  # no build/, egg-info

    result = cnnpipe(venv, "uninstall", "cnnpipe-quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "removed cnnpipe-quiet 0.0.3, plugin 'quiet'"
    assert "quiet" not in cnnpipe(venv, "list", "reporters").stdout


def test_the_core_is_never_uninstalled(venv):
    for name in ("cnnpipe", "CnnPipe", "CNNPIPE"):
        result = cnnpipe(venv, "uninstall", "cnnpipe-lenet", name)
        assert result.returncode == 2
        assert result.stderr == (f"cnnpipe: error: cnnpipe cannot uninstall itself; to remove it, run: "
                                 f"{venv} -m pip uninstall cnnpipe\n")
    assert "lenet" in cnnpipe(venv, "list", "models").stdout


def test_a_failed_install_is_one_line_after_pip_says_why(venv, tmp_path):
    result = cnnpipe(venv, "install", str(tmp_path / "no-such-folder"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "cnnpipe: error: pip install failed (exit 1); see its output above"
    result = cnnpipe(venv, "install")
    assert result.returncode == 2 and "name at least one distribution" in result.stderr


def test_uninstall_refuses_every_spelling_of_the_core_its_dependencies_files_and_options(venv, tmp_path):
    names = tmp_path / "req.txt"
    names.write_text("cnnpipe\n")
    for args in (["cnnpipe==0.2.0"], ["cnnpipe>=0"], ["cnnpipe[test]"], ["cnnpipe "], ["cnnpipe; python_version>'3'"],
                 ["--", "-r", str(names)], ["--", "--requirement", str(names)], ["--", "--yes"],
                 ["pluggy"], ["Click>=8"], ["cnnpipe-lenet", "numpy"]):
        result = cnnpipe(venv, "uninstall", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("cnnpipe: error: "), args
        assert result.stdout == "", args  # pip never ran, nothing listed as removed
    result = cnnpipe(venv, "uninstall", "not a name!")
    assert result.returncode == 2 and "not a distribution name" in result.stderr, result.stderr
    assert "lenet" in cnnpipe(venv, "list", "models").stdout
