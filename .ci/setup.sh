#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine (run as root): the real
# Fashion-MNIST, a Docker engine with a locally built base image, and tox.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if [ -f .ci/docker-setup.sh ]; then
    bash .ci/docker-setup.sh
fi
python3 -m pip install --quiet --disable-pip-version-check tox
