"""Runners of a run of several processes on this machine (see docs/distributed.md).

They orchestrate; the low-level contract they use (environments, engines, launch protocols' names) is
:mod:`cnnpipe.distributed`.

- :mod:`.rank`: ``cnnpipe run`` as one rank (or a server, or the scheduler) of such a run.
- :mod:`.local`: ``cnnpipe run --workers N`` on this machine, on 127.0.0.1.
- :mod:`.launch` and :mod:`.output`: starting those processes, their watchdog and their logs.
"""
