"""Job containers read Fashion-MNIST decoded on the host from the shared cache, read-only and checked, instead of
decoding it again in every container (the real engine, the real job image, the real data)."""

from __future__ import annotations

import pytest

from cnnpipe.docker.request import ContainerRequest, create_kwargs, job_user, shared_cache

pytestmark = pytest.mark.docker

READ = ("import sys; from cnnpipe_fashion_mnist import loader\n"
        "def refuse(*a): sys.exit('decoded again')\n"
        "loader.decode = refuse\n"
        "X = loader.load('/data')[0]; print(X.shape[0])")


def test_a_job_reads_the_hosts_decoded_cache(engine, job_image, real_data, tmp_path):
    from cnnpipe_fashion_mnist import loader

    loader.load(str(real_data))  # decoded here (or already), into the cache this test run uses
    cache = shared_cache()
    assert cache is not None and list(cache.glob("fashion-mnist/decoded-*/manifest.json"))
    before = sorted(p.name for p in cache.rglob("*"))
    runs = tmp_path / "runs"
    runs.mkdir()
    request = ContainerRequest(image=job_image, args=[], out_dir=runs, data_dir=real_data, cache_dir=cache)
    kwargs = create_kwargs(request, job_user(), runs)
    kwargs.update(command=["python", "-c", READ], detach=False, remove=True, stdout=True, stderr=True)
    out = engine.containers.run(**kwargs)
    assert out.decode().split()[-1] == "60000"
    assert sorted(p.name for p in cache.rglob("*")) == before  # read-only: the job wrote nothing there
