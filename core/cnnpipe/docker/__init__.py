"""Running cnnpipe jobs in containers.

:mod:`.engine` (the client, lookups by label), :mod:`.limits` (option checks), :mod:`.request` (what a job
container is: ``ContainerRequest``, ``container_args``, ``create_kwargs``), :mod:`.container` (create,
start, wait, remove), :mod:`.staging` (run folders handed back to root), :mod:`.attached` (``cnnpipe run
--runner docker``), :mod:`.image` and :mod:`.wheels` (job images).  The Docker SDK is imported inside
functions only, so that ``cnnpipe --help`` never pays for it.
"""
