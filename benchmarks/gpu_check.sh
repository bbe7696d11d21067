#!/usr/bin/env bash
# The GPU proof: the chapter's eight networks with --backend torch at the book's full recipe.
#
#   bash benchmarks/gpu_check.sh DATA_DIR OUT_DIR [gpu_check.py options]
#
# Run from the repository root on a machine with one GPU, Python (3.12 is fine) with numpy, torch,
# pluggy, click, tqdm and matplotlib installed, and no network: cnnpipe is installed from this source
# tree with pip --no-deps into OUT_DIR/venv, which sees the interpreter's own packages.  DATA_DIR holds
# Fashion-MNIST's four .gz files.  Writes OUT_DIR/gpu_check.json and OUT_DIR/gpu_check.log.
#
# A proof run on a CPU:  bash benchmarks/gpu_check.sh DATA_DIR OUT_DIR --device cpu --limit 512 --resize-cap 32
# Compiled steps and one precision for every network:  ... --compile --precision bf16
# Per network it records test accuracy and time per epoch, images/s, peak GPU memory (nvidia-smi) and peak RSS.
# PYTHON names the interpreter (default python3).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: bash benchmarks/gpu_check.sh DATA_DIR OUT_DIR [--device cpu] [--limit N] [--resize-cap M] [--epochs E] [--models a,b] [--compile] [--precision fp32|bf16|fp16]" >&2
    exit 2
fi
data_dir=$(realpath "$1")
out_dir=$(realpath -m "$2")
shift 2
python=${PYTHON:-python3}
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ ! -f "$data_dir/$name.gz" ] && [ ! -f "$data_dir/$name" ]; then
        echo "gpu_check: $data_dir lacks Fashion-MNIST's $name(.gz)" >&2
        exit 2
    fi
done
if [ ! -f core/cnnpipe/__init__.py ]; then
    echo "gpu_check: run it from the repository root" >&2
    exit 2
fi
mkdir -p "$out_dir"

run() {
    echo "gpu_check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), $("$python" --version 2>&1)"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    fi

    # A venv that also sees every package of the interpreter it was made from (a venv's or the system's).
    local venv="$out_dir/venv" plugins=() dir
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv"
    "$python" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()] * bool(site.ENABLE_USER_SITE)))' \
        > "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_gpu_check_parent.pth"
    for dir in plugins/cnnpipe-*; do
        [ "$dir" = plugins/cnnpipe-mxnet ] || plugins+=("$dir")
    done
    # No network: no build isolation (setuptools comes from the interpreter) and no dependencies.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-build-isolation \
        ./ "${plugins[@]}"
    "$venv/bin/python" -m cnnpipe list backends

    CNNPIPE_CACHE_DIR="$out_dir/cache" MPLCONFIGDIR="$out_dir/matplotlib" \
        "$venv/bin/python" benchmarks/gpu_check.py "$data_dir" "$out_dir" "$@"
}

# Everything printed also goes to the log; the pipeline ends only when tee has written all of it.
run "$@" 2>&1 | tee -a "$out_dir/gpu_check.log"
