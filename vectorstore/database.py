"""The record's database: SQLite in the knowledge-base folder (the embedded default) or a PostgreSQL
server shared by several app servers — one small seam, so the commit protocol and the crash repair
(``store.py``, ``repair.py``) and every table module are written once for both.

How a table module uses it (``Store.database`` is the ``Database``; pass it to the module)::

    SCHEMA = "CREATE TABLE IF NOT EXISTS feedback (id {serial_pk}, chunk_id TEXT, note TEXT, vec {blob}, " \
             "at TEXT DEFAULT {now})"
    database.apply_schema(SCHEMA)                     # once, at open (under the writer lock: no create race)
    with database.tx() as db:                         # one write transaction on the writer connection
        db.execute("INSERT INTO feedback(chunk_id, note) VALUES (?, ?)", (cid, note))
        db.execute("INSERT INTO kv(key, value) VALUES (?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (k, v))   # an upsert, both dialects
    rows = database.read().execute("SELECT note FROM feedback WHERE chunk_id=?", (cid,)).fetchall()
    with database.snapshot() as db:                   # several reads that must agree with one another
        ...

A module whose writes are not part of the store's commit protocol (``userdata.py``) opens a ``Database`` of
its own on the same place, ``Database(store.database.folder, store.database.url)``, so its short transactions
never interleave with the store's on one connection; a module whose rows must change with the store's
(``overrides.py``) writes on ``store.db`` inside ``store._tx()`` under ``store._write_lock()``.

Write SQL in the common subset: ``?`` placeholders (rewritten to ``%s`` for PostgreSQL), ``ON CONFLICT``
upserts (never ``INSERT OR REPLACE``/``OR IGNORE``: use ``ON CONFLICT DO NOTHING``), the schema tokens
``{blob}`` (BLOB/BYTEA), ``{serial_pk}`` (an auto-numbered integer key) and ``{now}`` (the UTC time as text),
and order rows by a column, not SQLite's ``rowid``.  Cursors iterate tuples and have ``fetchone``,
``fetchall`` and ``rowcount`` on both.  ``database.errors`` is the tuple of driver exceptions to catch.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

try:  # the cross-process write lock of the embedded store (POSIX); threads are serialised in any case
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SQLITE_FILE = "fazhi.sqlite3"
# the PostgreSQL advisory lock that serialises writers of one knowledge base (one knowledge base per database)
ADVISORY_KEY = 0x66617A6869  # "fazhi"
TOKENS = {
    "sqlite": {"blob": "BLOB", "serial_pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "now": "CURRENT_TIMESTAMP",
               "seq_column": ""},
    "postgresql": {"blob": "BYTEA", "serial_pk": "BIGSERIAL PRIMARY KEY",
                   "now": "(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))",
                   "seq_column": "seq BIGSERIAL, "},
}


def is_database_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")


def describe(url: str) -> str:
    """A database URL for messages: without its password."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return u._replace(netloc=u.netloc.rsplit("@", 1)[-1]).geturl()


def driver_errors(url: str | None) -> tuple[type[BaseException], ...]:
    """The exceptions the record's driver raises (``sqlite3.Error`` or ``psycopg.Error``)."""
    if is_database_url(url):
        import psycopg

        return (psycopg.Error,)
    import sqlite3

    return (sqlite3.Error,)


class Connection:
    """One driver connection behind the common interface (``?`` placeholders, explicit transactions)."""

    def __init__(self, raw, dialect: str) -> None:
        self.raw, self.dialect = raw, dialect
        self._sql: dict[str, str] = {}

    def _q(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql
        out = self._sql.get(sql)
        if out is None:
            out = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return out

    def execute(self, sql: str, params=()):
        return self.raw.execute(self._q(sql), tuple(params))

    def executemany(self, sql: str, rows) -> None:
        if self.dialect == "sqlite":
            self.raw.executemany(sql, rows)
            return
        with self.raw.cursor() as cur:
            cur.executemany(self._q(sql), list(rows))

    @property
    def in_transaction(self) -> bool:
        if self.dialect == "sqlite":
            return self.raw.in_transaction
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def begin(self, write: bool) -> None:
        if self.dialect == "sqlite":
            self.raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        else:  # a reader's snapshot: every statement of it sees one committed state
            self.raw.execute("BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


class Database:
    """The record's connections: ``writer`` (the one writing connection, also fine for single-threaded
    reads), one read connection per thread (``read()``), transactions and the cross-process writer lock."""

    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.folder = Path(folder)
        self.url = url if is_database_url(url) else None
        self.dialect = "postgresql" if self.url else "sqlite"
        self.path = self.folder / SQLITE_FILE
        self.errors = driver_errors(self.url)
        # the chunks' insertion order (the BM25 index's row order, the same on every app server)
        self.row_order = "rowid" if self.dialect == "sqlite" else "seq"
        self._local = threading.local()
        self._readers: list[Connection] = []
        self._readers_lock = threading.Lock()
        self._lock_file = None
        self.writer = self.connect()
        if self.dialect == "sqlite":
            self.writer.execute("PRAGMA journal_mode=WAL")

    @property
    def where(self) -> str:
        """The record's place for messages (a URL without its password)."""
        return str(self.path) if self.dialect == "sqlite" else describe(self.url)

    def connect(self) -> Connection:
        if self.dialect == "sqlite":
            import sqlite3

            raw = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=60)
            raw.execute("PRAGMA busy_timeout=60000")
        else:
            import psycopg

            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=30)
        return Connection(raw, self.dialect)

    def apply_schema(self, ddl: str) -> None:
        """``CREATE … IF NOT EXISTS`` statements with the dialect's tokens, one at a time on the writer."""
        for stmt in ddl.format(**TOKENS[self.dialect]).split(";"):
            if stmt.strip():
                self.writer.execute(stmt)

    def columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {r[1] for r in self.writer.execute(f"PRAGMA table_info({table})")}
        return {r[0] for r in self.writer.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name=? AND table_schema=current_schema()",
            (table,))}

    # ---- connections ---------------------------------------------------------------------------
    def execute(self, sql: str, params=()):
        return self.writer.execute(sql, params)

    def read(self) -> Connection:
        """This thread's read connection: it sees committed data only."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.connect()
            with self._readers_lock:
                self._readers.append(db)
        return db

    @contextmanager
    def snapshot(self):
        """One consistent read snapshot (a read transaction) on this thread's connection."""
        db = self.read()
        if db.in_transaction:  # already inside one on this thread
            yield db
            return
        db.begin(write=False)
        try:
            yield db
        finally:
            db.commit()

    @contextmanager
    def tx(self):
        """One write transaction on the writer connection (the caller holds the writer lock)."""
        self.writer.begin(write=True)
        try:
            yield self.writer
        except BaseException:
            self.writer.rollback()
            raise
        self.writer.commit()

    # ---- the writer lock across processes (threads of one process hold ``Store._lock`` first) --------
    def lock(self, blocking: bool = True) -> bool:
        """Take the cross-process writer lock: an ``flock`` on ``write.lock`` in the folder, or a PostgreSQL
        session advisory lock on the writer connection (freed by the server when the process dies).
        Without ``blocking``: False at once when another process holds it."""
        if self.dialect == "postgresql":
            if blocking:
                self.writer.execute("SELECT pg_advisory_lock(?)", (ADVISORY_KEY,))
                return True
            return bool(self.writer.execute("SELECT pg_try_advisory_lock(?)", (ADVISORY_KEY,)).fetchone()[0])
        if fcntl is None:
            return True
        try:
            if self._lock_file is None:
                self._lock_file = open(self.folder / "write.lock", "a+b")
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        except OSError:  # a read-only folder: nothing will be written anyway
            pass
        return True

    def unlock(self) -> None:
        if self.dialect == "postgresql":
            try:
                self.writer.execute("SELECT pg_advisory_unlock(?)", (ADVISORY_KEY,))
            except self.errors:  # a lost connection has dropped the lock with it
                pass
            return
        if fcntl is not None and self._lock_file is not None:
            try:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            except OSError:
                pass

    def forget_readers(self) -> None:
        with self._readers_lock:
            for db in self._readers:
                try:
                    db.close()
                except self.errors:
                    pass
            self._readers.clear()
        self._local = threading.local()

    def close(self) -> None:
        self.forget_readers()
        try:
            self.writer.close()
        except self.errors:
            pass
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
