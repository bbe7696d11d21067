"""The scheduler's SQLite file: schedules and jobs, with a schema version and migrations."""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..errors import UsageError
from .records import Job, Request, Schedule

ACTIVE = ("queued", "starting", "running")
FINISHED = ("succeeded", "failed", "cancelled", "lost", "missed")

# Each entry upgrades the file from version i to i + 1; never edit one that has shipped.
MIGRATIONS = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        cron TEXT NOT NULL,
        timezone TEXT NOT NULL,
        spec TEXT NOT NULL,
        concurrency TEXT NOT NULL,
        starting_deadline REAL,
        retries INTEGER NOT NULL,
        backoff REAL NOT NULL,
        timeout REAL,
        paused INTEGER NOT NULL DEFAULT 0,
        last_slot REAL NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule TEXT NOT NULL,
        slot REAL NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,
        gpus TEXT,
        container TEXT,
        exit_code INTEGER,
        out_dir TEXT,
        run_dir TEXT,
        not_before REAL,
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        note TEXT,
        UNIQUE (schedule, slot, attempt)
    );
    """,
    """
    CREATE INDEX jobs_by_state ON jobs (state, id);
    CREATE INDEX jobs_by_schedule ON jobs (schedule, id);
    """,
    # "spec" meant four things in cnnpipe 0.2; the container a schedule's jobs run is its "request".
    # A schedule the scheduler cannot fire records why in "problem".
    """
    ALTER TABLE schedules RENAME COLUMN spec TO request;
    ALTER TABLE jobs RENAME COLUMN spec TO request;
    ALTER TABLE schedules ADD COLUMN problem TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
HEADER = b"SQLite format 3\x00"


def home() -> Path:
    """cnnpipe's state folder: ``CNNPIPE_HOME`` when set, else ``~/.local/state/cnnpipe``."""
    if os.environ.get("CNNPIPE_HOME"):
        return Path(os.environ["CNNPIPE_HOME"])
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "cnnpipe"


def default_path() -> Path:
    return home() / "scheduler.sqlite"


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are opened explicitly, so a read never holds a lock.
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    return db


def create(path: Path) -> None:
    """A new store at ``path``, made complete beside it and then linked into place.

    So a file at ``path`` is always a whole store: an empty one can only be a damaged one.  When two
    processes create it at once, the first link wins and both use that store.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        new = Store.__new__(Store)
        new.path, new.db = tmp, connect(tmp)
        new.migrate()
        new.db.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def check_file(path: Path) -> None:
    """Refuse a file that cannot be a store, before SQLite would take an empty one as a new store."""
    if path.stat().st_size == 0:
        wal = path.with_name(path.name + "-wal")
        if not (wal.is_file() and wal.stat().st_size > 0):  # else SQLite recovers the pages from the log
            raise damaged(path, "it is empty (0 bytes)")
        return
    with open(path, "rb") as f:
        if f.read(len(HEADER)) != HEADER:
            raise damaged(path, "it is not an SQLite database")


def damaged(path: Path, reason: str) -> UsageError:
    return UsageError(f"the scheduler store {path} is damaged ({reason}); it was left as it is: restore it from a "
                      f"backup, or move it away to start an empty store (its schedules and job history are then lost)")


def migrate(store: "Store", target: int | None = None) -> None:
    """Bring ``store`` up to ``target`` (default: the newest schema), one migration per transaction."""
    target = SCHEMA_VERSION if target is None else target
    with store.tx():
        current = store.version()
    if current > target:
        raise UsageError(f"{store.path} has schema version {current}, newer than this cnnpipe knows ({target}); "
                         f"upgrade cnnpipe")
    for version in range(current, target):
        with store.tx() as db:
            if store.version() != version:  # another process migrated meanwhile
                continue
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            if version == 0:
                db.execute("INSERT INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex[:12],))
            db.execute(f"PRAGMA user_version = {version + 1}")


class Store:
    """Schedules and jobs in one SQLite file; writes go through :meth:`tx` (an immediate transaction)."""

    def __init__(self, path=None):
        self.path = Path(path) if path else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                create(self.path)
            check_file(self.path)
            self.db = connect(self.path)
            verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, str(exc))
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"cannot open the scheduler store {self.path}: {exc}")
        if verdict != "ok":
            raise damaged(self.path, verdict.splitlines()[0])
        self.migrate()
        self.id = self.meta("store_id")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def tx(self):
        """An immediate transaction: other schedulers on the same file wait until it ends."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def version(self) -> int:
        """The file's schema version (SQLite ``user_version``)."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, target: int | None = None) -> None:
        """Bring the file up to ``target`` (default: the newest schema), one migration per transaction."""
        migrate(self, target)

    def meta(self, key: str):
        """A value of the ``meta`` table (``store_id``: the id job containers are labelled with)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # schedules

    def add_schedule(self, schedule: Schedule) -> None:
        """Store a new schedule; a one-line error when the name is taken."""
        row = schedule.row()
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.tx() as db:
            if db.execute("SELECT 1 FROM schedules WHERE name = ?", (schedule.name,)).fetchone():
                raise UsageError(f"schedule '{schedule.name}' already exists; remove it first or pick another name")
            db.execute(f"INSERT INTO schedules ({cols}) VALUES ({marks})", list(row.values()))

    def schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        return [Schedule.from_row(r) for r in self.db.execute("SELECT * FROM schedules ORDER BY name")]

    def schedule(self, name: str) -> Schedule:
        """The schedule called ``name``; a :class:`UsageError` listing the names otherwise."""
        row = self.db.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = ", ".join(s.name for s in self.schedules()) or "none yet"
            raise UsageError(f"no schedule named '{name}'; schedules: {names}")
        return Schedule.from_row(row)

    def set_paused(self, name: str, paused: bool, now: float) -> None:
        """Pause or resume ``name``."""
        self.schedule(name)
        with self.tx() as db:
            # On resume, slots that passed while paused are not owed.
            extra = "" if paused else ", last_slot = MAX(last_slot, ?)"
            args = (int(paused),) + (() if paused else (now,)) + (name,)
            db.execute(f"UPDATE schedules SET paused = ?{extra} WHERE name = ?", args)

    def set_problem(self, name: str, problem: str | None) -> None:
        """Record why ``name`` cannot fire (None: it can again)."""
        with self.tx() as db:
            db.execute("UPDATE schedules SET problem = ? WHERE name = ?", (problem, name))

    def remove_schedule(self, name: str) -> None:
        """Delete ``name``; its jobs stay in the history."""
        self.schedule(name)
        with self.tx() as db:
            db.execute("DELETE FROM schedules WHERE name = ?", (name,))

    # jobs

    def insert_job(self, db, name: str, request: Request, slot: float, now: float, *, state="queued",
                   trigger="cron", attempt=1, not_before=None, note=None):
        """Record one job of schedule ``name`` (inside ``tx``); returns its id, or None when that slot and attempt exist."""
        cur = db.execute(
            "INSERT OR IGNORE INTO jobs (schedule, slot, attempt, trigger, state, request, not_before, created,"
            " finished, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, slot, attempt, trigger, state, request.to_json(), not_before, now,
             now if state in FINISHED else None, note),
        )
        return cur.lastrowid if cur.rowcount else None

    def queue_now(self, name: str, now: float) -> int:
        """Queue a job of ``name`` for ``now``, whatever its cron line and concurrency policy say; returns its id."""
        schedule = self.schedule(name)
        if schedule.request is None:
            raise UsageError(f"schedule '{name}' cannot run: {schedule.problem}; remove it and add it again")
        with self.tx() as db:
            while (job_id := self.insert_job(db, name, schedule.job_request(), now, now, trigger="manual")) is None:
                now += 0.001  # two run-now calls within one clock tick are still two jobs
        return job_id

    def jobs(self, schedule=None, states=None, limit=None) -> list[Job]:
        """Jobs oldest first, optionally of one schedule, in some states, or only the newest ``limit``."""
        sql, args = "SELECT * FROM jobs WHERE 1", []
        if schedule:
            sql += " AND schedule = ?"
            args.append(schedule)
        if states:
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            args += list(states)
        sql += " ORDER BY id"
        if limit:
            sql = f"SELECT * FROM ({sql.replace('ORDER BY id', 'ORDER BY id DESC')} LIMIT {int(limit)}) ORDER BY id"
        return [Job.from_row(r) for r in self.db.execute(sql, args)]

    def job(self, job_id) -> Job:
        """The job with id ``job_id``; a one-line error otherwise."""
        try:
            key = int(job_id)
        except (TypeError, ValueError):
            raise UsageError(f"a job id is a number, got '{job_id}'")
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise UsageError(f"no job with id {job_id}; see cnnpipe jobs list")
        return Job.from_row(row)

    def update_job(self, db, job_id: int, expect, **values) -> bool:
        """Set ``values`` on the job if its state is one of ``expect``; False when another process got there first."""
        expect = (expect,) if isinstance(expect, str) else tuple(expect)
        sets = ", ".join(f"{k} = ?" for k in values)
        cur = db.execute(
            f"UPDATE jobs SET {sets} WHERE id = ? AND state IN ({', '.join('?' for _ in expect)})",
            (*values.values(), job_id, *expect),
        )
        return cur.rowcount == 1
