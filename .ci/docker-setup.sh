#!/bin/sh
# Make a Docker engine and the cnnpipe-base:py image available for the Docker tests.
# Idempotent: installs, starts and builds only what is missing.  See shared/ENVIRONMENT.md.
set -eu

BASE_IMAGE="${CNNPIPE_BASE_IMAGE:-cnnpipe-base:py}"
SOCKET=/var/run/docker.sock

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

if ! docker info >/dev/null 2>&1; then
    # No bridge and no iptables: job containers only ever use network "none".
    nohup dockerd --host "unix://$SOCKET" --bridge=none --iptables=false --ip-forward=false \
        >/var/log/dockerd.log 2>&1 &
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge 60 ]; then
            echo "docker-setup: dockerd did not answer within 30 s; see /var/log/dockerd.log" >&2
            exit 1
        fi
        sleep 0.5
    done
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    # No registry is reachable, so the base image is made from Debian packages.
    mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-venv,ca-certificates,libgomp1,libquadmath0 bookworm - \
        | docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE"
fi
echo "docker-setup: engine $(docker version --format '{{.Server.Version}}'), base image $BASE_IMAGE ready"
