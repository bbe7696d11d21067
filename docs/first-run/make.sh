#!/usr/bin/env bash
# Records the README's first run: `cnnpipe run lenet fashion-mnist` (the book's LeNet recipe) and the machine it ran on.
# Usage: bash docs/first-run/make.sh   (cnnpipe on PATH; the run folder goes to a temporary folder)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(mktemp -d)"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
    echo "cpu flags: $(grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u | xargs)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "python: $("$(dirname "$(command -v cnnpipe)")/python" --version 2>&1)"
    echo "versions: $(cnnpipe plugins --json | python3 -c 'import json,sys; print(", ".join(sorted({r["dist"]+" "+r["version"] for r in json.load(sys.stdin)})))')"
    echo "mxnet: $("$(dirname "$(command -v cnnpipe)")/python" -c "import mxnet; print(mxnet.__version__)")"
} > "$here/machine.txt"
echo "$ cnnpipe run lenet fashion-mnist" > "$here/lenet.txt"
cnnpipe run lenet fashion-mnist >> "$here/lenet.txt" 2>&1
