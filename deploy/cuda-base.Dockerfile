# CUDA base of cnnpipe job images: NVIDIA's CUDA 11.7 runtime with cuDNN 8 on Ubuntu 22.04, the
# CUDA version of mxnet-cu117 1.9.1, plus Ubuntu's Python 3.10 and the libraries MXNet needs.
# Build it once, where Docker Hub and Ubuntu's mirrors are reachable:
#   docker build -t cnnpipe-base:cuda11.7 -f deploy/cuda-base.Dockerfile deploy
# `cnnpipe image build --cuda` then adds cnnpipe, mxnet-cu117 and the installed plugins offline, from
# wheels downloaded on the host for Python 3.10 (not the host's Python).
FROM nvidia/cuda:11.7.1-cudnn8-runtime-ubuntu22.04
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates libgomp1 libquadmath0 \
 && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8
CMD ["/bin/bash"]
