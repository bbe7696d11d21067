#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine (run as root): the real
# Fashion-MNIST, systemd-analyze (to check the scheduler's unit), venv, a Docker engine with a
# locally built base image, a one-node Slurm cluster (.ci/slurm-setup.sh), and tox.  Idempotent: only what is
# missing is installed.  Everything comes from apt: Debian's python3 has no pip, and PEP 668 refuses a
# system-wide pip install.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
missing=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || missing+=(dataset-fashion-mnist)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# venv: the README's fresh-machine command and the test that installs each network alone
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
# procps: pgrep, which .ci/slurm-setup.sh uses (a minimal Debian has none)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)
# Debian's tox (3.28 on Debian 12) for python3; a python3 that already runs tox keeps its own.
python3 -m tox --version >/dev/null 2>&1 || missing+=(tox)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash .ci/docker-setup.sh
sh .ci/slurm-setup.sh
