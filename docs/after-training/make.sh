#!/usr/bin/env bash
# Makes the figures of docs/after-training.md and the README's "After training" section from real runs:
# a sweep of LeNet on Fashion-MNIST (both backends, two learning rates, the book's recipe otherwise),
# runs compare --plot, evaluate, and predict on three test images written as PNG files.
# Usage: bash docs/after-training/make.sh   (cnnpipe on PATH; run folders go to a temporary folder)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cd "$work"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
    echo "cpu flags: $(grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u | xargs)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "python: $(python3 --version 2>&1)"
} > "$here/machine.txt"

echo "$ cnnpipe sweep lenet fashion-mnist --grid backend=mxnet,torch --grid lr=0.3,0.9" > "$here/sweep.txt"
cnnpipe sweep lenet fashion-mnist --grid backend=mxnet,torch --grid lr=0.3,0.9 --reporter plot >> "$here/sweep.txt"

folders=$(ls -d runs/sweep-lenet-fashion-mnist/*/ | sed 's:/$::')
echo "$ cnnpipe runs compare runs/sweep-lenet-fashion-mnist/* --plot compare.png" > "$here/compare.txt"
cnnpipe runs compare $folders --plot "$here/compare.png" | grep -v '^written:' >> "$here/compare.txt"

best=runs/sweep-lenet-fashion-mnist/$(sed -n 3p "$here/sweep.txt" | cut -d' ' -f1)
echo "$ cnnpipe evaluate $best" > "$here/evaluate.txt"
cnnpipe evaluate "$best" | grep -v '^written:' >> "$here/evaluate.txt"
cp "$best/confusion.png" "$here/confusion.png"

mkdir -p "$here/images"
python3 - "$here/images" <<'PY'
import sys
from PIL import Image
from cnnpipe.registry import build_registry

data = build_registry().dataset("fashion-mnist").load()
for i in range(3):
    name = data.class_names[int(data.test_y[i])].replace(" ", "-").replace("/", "-")
    Image.fromarray(data.test_X[i, 0]).save(f"{sys.argv[1]}/test-{i}-{name}.png")
PY
echo "$ cnnpipe predict $best images/*.png" > "$here/predict.txt"
cnnpipe predict "$best" "$here"/images/*.png | sed "s:$here/::" >> "$here/predict.txt"
python3 -c "import json,sys; v=json.load(open(sys.argv[1]))['versions']; print('versions: ' + ', '.join(f'{k} {v[k]}' for k in ('cnnpipe', 'mxnet', 'torch') if k in v))" "$best/config.json" >> "$here/machine.txt"
for f in $folders; do
    python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(sys.argv[1].split('/')[-2] + ': ' + ', '.join(f'{k} {c[\"versions\"][k]}' for k in ('mxnet', 'torch') if k in c['versions']))" "$f/config.json" >> "$here/machine.txt"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$here/machine.txt"
echo "run folders: $work/runs"
