"""A torch run on the CPU keeps its batch-sized buffers on glibc's heap instead of mapping fresh, zeroed
pages every step (see ``cnnpipe_torch.malloc``).  Page faults are counted, not times measured."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")

# Thirty LeNet training steps on one batch of 256, after five warm-up steps; print the minor page faults taken.
STEPS = textwrap.dedent("""
    import json, resource, torch
    from torch import nn
    from cnnpipe_torch import malloc
    pinned = malloc.keep_batch_buffers()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Sigmoid(), nn.MaxPool2d(2, 2), nn.Conv2d(6, 16, 5), nn.Sigmoid(),
                        nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(256, 120), nn.Sigmoid(), nn.Linear(120, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    for _ in range(5):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(30):
        step()
    print(json.dumps({"pinned": pinned, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
""")


def steps(**env):
    done = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True, check=True, timeout=300,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}, **env})
    return json.loads(done.stdout)


def test_pinned_thresholds_keep_the_steps_from_faulting_pages_in():
    pinned = steps()
    # A user's own fixed 128 KiB threshold (glibc's default start) wins: nothing is pinned, and every
    # batch-sized block is a fresh map whose pages fault in again at every step.
    unpinned = steps(MALLOC_MMAP_THRESHOLD_=str(128 << 10))
    assert pinned["pinned"] and not unpinned["pinned"]
    assert pinned["faults"] * 20 < unpinned["faults"], (pinned, unpinned)  # measured: under 1,500 against 350,000


@pytest.mark.real_data
def test_a_cpu_run_pins_them(tmp_path):
    script = textwrap.dedent(f"""
        from cnnpipe.cli import main
        from cnnpipe_torch import malloc
        main(["run", "lenet", "fashion-mnist", "--backend", "torch", "--device", "cpu", "--limit", "256",
              "--epochs", "1", "--reporter", "console", "--out", {str(tmp_path)!r}], standalone_mode=False)
        print(malloc._applied)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
