"""What the scheduler's store holds: a :class:`Schedule`, the :class:`Request` for each of its jobs' containers,
and a :class:`Job` per slot (or manual run, or retry).

Rows are read tolerantly: a row damaged however it got into the file becomes a record with a ``problem``
(a schedule) or no request (a job), so that one bad row never stops the others.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace


@dataclass(frozen=True)
class Request:
    """The container a schedule's jobs run: ``cnnpipe COMMAND ARGS`` in ``image`` with these limits and folders."""

    model: str
    dataset: str
    args: list[str]
    image: str | None = None
    gpus: int = 0                 # how many GPUs each job gets (which ones is decided when it starts)
    out_dir: str = "runs"         # host folder; each job writes under OUT_DIR/SCHEDULE/SLOT-jobID
    data_dir: str | None = None   # host folder mounted read-only at /data
    memory: str | None = None
    cpus: float | None = None
    timeout: float | None = None  # seconds; copied from the schedule into each job
    command: str = "run"          # the cnnpipe command that takes ``args``: run, or sweep (schedule add --grid)
    on: str = "docker"            # where jobs run: docker (a container here) or slurm (submitted with sbatch)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Request":
        """The request stored as ``text``; keys this version does not know are ignored."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Schedule:
    """A cron line, its time zone and policies, and the request every job of it runs."""

    name: str
    cron: str
    timezone: str
    request: Request | None       # None when the stored one cannot be read (see ``problem``)
    concurrency: str = "forbid"
    starting_deadline: float | None = 3600.0
    retries: int = 0
    backoff: float = 60.0
    timeout: float | None = None
    paused: bool = False
    last_slot: float = 0.0
    created: float = 0.0
    problem: str | None = None    # why the scheduler cannot fire it, when it cannot

    def job_request(self) -> Request:
        """What a job of this schedule runs, copied into the job so that later edits do not change it."""
        return replace(self.request, timeout=self.timeout)

    def row(self) -> dict:
        """The schedule as a row of the ``schedules`` table."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["request"] = self.request.to_json()
        values["paused"] = int(self.paused)
        return values

    @classmethod
    def from_row(cls, row) -> "Schedule":
        values = {k: row[k] for k in row.keys() if k in _SCHEDULE_FIELDS}
        values["paused"] = bool(values.get("paused"))
        try:
            values["request"] = Request.from_json(values["request"])
        except (TypeError, ValueError, KeyError) as exc:
            values["request"] = None
            values["problem"] = values.get("problem") or f"its stored request cannot be read ({exc})"
        return cls(**values)


@dataclass(frozen=True)
class Job:
    """One run of a schedule: its slot, attempt, state and outcome, and the request it runs."""

    id: int
    schedule: str
    slot: float
    state: str
    request: Request | None       # None when the stored one cannot be read
    attempt: int = 1
    trigger: str = "cron"         # cron | manual | retry
    gpus: list[str] = field(default_factory=list)  # the GPU ids it was given
    container: str | None = None
    exit_code: int | None = None
    out_dir: str | None = None    # the job's own folder (its run folder is made inside)
    run_dir: str | None = None
    not_before: float | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    note: str | None = None

    @property
    def gpu_count(self) -> int:
        """How many GPUs the job asks for."""
        return self.request.gpus if self.request else 0

    @classmethod
    def from_row(cls, row) -> "Job":
        values = {k: row[k] for k in row.keys() if k in _JOB_FIELDS}
        values["gpus"] = [g for g in (values.get("gpus") or "").split(",") if g]
        try:
            values["request"] = Request.from_json(values["request"])
        except (TypeError, ValueError, KeyError):
            values["request"] = None
        return cls(**values)


_SCHEDULE_FIELDS = {f.name for f in fields(Schedule)}
_JOB_FIELDS = {f.name for f in fields(Job)}
