"""A throwaway plugin distribution's source folder, as a third party would write it: one package, one
``cnnpipe`` entry point, setuptools."""

import json
import textwrap
from pathlib import Path


def plugin_source(root: Path, dist: str, code: str, version: str = "0.0.1", dependencies=("cnnpipe",)) -> Path:
    """``root/DIST/`` with ``pyproject.toml`` and the package ``DIST`` (dashes as underscores) holding ``code``."""
    package = dist.replace("-", "_")
    src = root / dist
    (src / package).mkdir(parents=True)
    (src / package / "__init__.py").write_text(textwrap.dedent(code))
    (src / "pyproject.toml").write_text(textwrap.dedent(f'''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{dist}"
        version = "{version}"
        dependencies = {json.dumps(list(dependencies))}
        [project.entry-points.cnnpipe]
        {package.removeprefix("cnnpipe_")} = "{package}"
        [tool.setuptools]
        packages = ["{package}"]
    '''))
    return src
