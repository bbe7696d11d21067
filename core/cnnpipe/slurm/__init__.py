"""Runs on a Slurm cluster (``--runner slurm``; see docs/distributed.md).

- :mod:`.script`: the batch script of a run or of a sweep's job array, from the resolved run.
- :mod:`.task`: one Slurm task of a run of several workers, as the engine's launcher would start it.
- :mod:`.cluster`: ``sbatch``, ``squeue``/``sacct`` and ``scancel``, with one-line errors.
- :mod:`.submit`: run folders made ready at submission, and the job submitted.

Every job runs ``cnnpipe run --resume RUN_DIR`` on a folder made at submission, so a job that Slurm
requeues (preempted, or signalled before its time limit) continues the same folder.
"""
