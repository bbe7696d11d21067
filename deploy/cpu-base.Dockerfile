# CPU base of cnnpipe job images: Debian 12 with Python 3.11 and the libraries MXNet needs.
# Build it once, where Docker Hub and Debian's mirrors are reachable:
#   docker build -t cnnpipe-base:py -f deploy/cpu-base.Dockerfile deploy
# Where no registry is reachable, make the same image from Debian packages: .ci/docker-setup.sh.
# `cnnpipe image build` then adds cnnpipe and the installed plugins offline (core/cnnpipe/docker/job.Dockerfile).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates libgomp1 libquadmath0 \
 && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8
CMD ["/bin/bash"]
