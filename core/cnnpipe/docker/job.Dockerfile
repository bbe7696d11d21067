# A cnnpipe job image: the cnnpipe core and plugins on top of BASE, installed from wheels made on the
# host (`cnnpipe image build`), so it builds with --network none.  BASE needs python3 with venv, and
# libgomp1 and libquadmath0 for MXNet: see deploy/cpu-base.Dockerfile and deploy/cuda-base.Dockerfile.
ARG BASE=cnnpipe-base:py
# The dependencies are installed in a stage of their own, and only the installed environment is copied
# on: the wheels (gigabytes for a CUDA build) never become a layer of the image.  A rebuild after a
# plugin changed reuses this stage from the cache.
FROM ${BASE} AS deps
COPY deps /tmp/cnnpipe-deps
RUN python3 -m venv /opt/cnnpipe \
 && /opt/cnnpipe/bin/pip install --no-cache-dir --no-index --disable-pip-version-check \
      --find-links /tmp/cnnpipe-deps -r /tmp/cnnpipe-deps/requirements.txt

FROM ${BASE}
# Marks a job image however it is built: cnnpipe refuses to run a job in an image without it.
LABEL cnnpipe.image="job"
COPY --from=deps /opt/cnnpipe /opt/cnnpipe
COPY local /tmp/cnnpipe-local
RUN /opt/cnnpipe/bin/pip install --no-cache-dir --no-index --disable-pip-version-check --no-deps \
      /tmp/cnnpipe-local/*.whl \
 && rm -rf /tmp/cnnpipe-local \
 && /opt/cnnpipe/bin/cnnpipe plugins
# The root filesystem is read-only at run time: everything writable lives in the /tmp tmpfs.
ENV PATH=/opt/cnnpipe/bin:$PATH \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    CNNPIPE_CACHE_DIR=/tmp/cnnpipe-cache \
    PYTHONDONTWRITEBYTECODE=1
USER 65532:65532
WORKDIR /tmp
CMD ["cnnpipe", "--help"]
