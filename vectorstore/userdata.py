"""What users leave behind: answer feedback and saved conversations, in the knowledge base's database.

Two tables beside the documents in the record — ``fazhi.sqlite3``, or the PostgreSQL database of
``FAZHI_DATABASE_URL`` shared by every app server (``vectorstore/database.py``) — created on first use; nothing
else of the store is touched: ``feedback`` (one row per rated answer: the rating, whether a citation was wrong, the user's note,
and the question, answer, sources and settings it was given with) and ``conversations`` (one row per saved
conversation of one user: its title and its turns as JSON). Plain portable SQL — TEXT/INTEGER columns, ids
made in Python (uuid4 hex), ISO-8601 UTC timestamps made in Python, JSON kept as TEXT — so the same
statements serve another SQL database. Every write is one short transaction of its own; it never takes the
knowledge base's write lock (these rows are not part of what Chroma mirrors).

A user is the login name (``FAZHI_AUTH``), or ``LOCAL_USER`` when the app runs without login.
"""
from __future__ import annotations

import datetime as _dt
import json
import threading
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .database import Database, describe

LOCAL_USER = "local"  # the one user of an app without login
RATINGS = ("up", "down")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS feedback (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
    "user_name TEXT NOT NULL, rating TEXT, citation_error INTEGER NOT NULL DEFAULT 0, comment TEXT, mode TEXT, "
    "question TEXT, standalone TEXT, answer_text TEXT, refused INTEGER NOT NULL DEFAULT 0, sources TEXT, "
    "answer TEXT, settings TEXT, conversation_id TEXT, turn_id INTEGER)",
    "CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_name, created_at)",
    "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, title TEXT NOT NULL, "
    "created_at TEXT NOT NULL, updated_at TEXT NOT NULL, turns TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user_name, updated_at)",
)
FEEDBACK_COLUMNS = ("id", "created_at", "updated_at", "user_name", "rating", "citation_error", "comment", "mode",
                    "question", "standalone", "answer_text", "refused", "sources", "answer", "settings",
                    "conversation_id", "turn_id")
JSON_COLUMNS = ("sources", "answer", "settings")


class UserDataError(Exception):
    pass


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass
class FeedbackEntry:
    """One rated answer. ``rating`` up/down (or None when only a wrong citation was reported)."""
    user_name: str
    mode: str
    question: str
    answer_text: str
    rating: str | None = None
    citation_error: bool = False
    comment: str = ""
    standalone: str = ""  # the question as it was answered (a follow-up rewritten with the history)
    refused: bool = False
    sources: list[dict] = field(default_factory=list)
    answer: dict = field(default_factory=dict)  # the whole Answer record as the app showed it
    settings: dict = field(default_factory=dict)  # filters, agency, n, backend and the answering thresholds
    conversation_id: str | None = None
    turn_id: int | None = None
    id: str = ""
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Conversation:
    """A saved conversation: its turns as the chat page keeps them (question, mode, answer, feedback…)."""
    user_name: str
    title: str
    turns: list[dict] = field(default_factory=list)
    id: str = ""
    created_at: str = ""
    updated_at: str = ""

    def summary(self) -> dict:
        return {"id": self.id, "title": self.title, "created_at": self.created_at, "updated_at": self.updated_at,
                "turns": len(self.turns)}

    def to_dict(self) -> dict:
        return asdict(self)


class UserData:
    """Feedback and conversations in the knowledge base's record (``fazhi.sqlite3`` or PostgreSQL). Thread-safe.

    ``source``: the store's ``Database`` (its place is used with a connection of this object's own, so these
    short transactions never interleave with the store's writes), or the path of a ``fazhi.sqlite3``."""

    def __init__(self, source: "Database | str | Path") -> None:
        self._lock = threading.Lock()
        if isinstance(source, Database):
            folder, url = source.folder, source.url
        else:
            folder, url = Path(source).parent, None
        self.db_path = folder / "fazhi.sqlite3"
        try:
            self.database = Database(folder, url)
            self.db = self.database.writer
            with self._tx():
                for statement in SCHEMA:
                    self.db.execute(statement)
        except Exception as exc:  # noqa: BLE001 - the driver's errors (sqlite3 / psycopg), or an unwritable folder
            where = self.db_path if url is None else describe(url)
            raise UserDataError(f"无法打开用户数据（{where}）：{exc}") from None

    @classmethod
    def of_folder(cls, folder: str | Path) -> "UserData":
        """The user data of the knowledge base in ``folder`` (without opening its vectors)."""
        path = Path(folder).expanduser() / "fazhi.sqlite3"
        if not path.is_file():
            raise UserDataError(f"没有知识库数据库：{path}")
        return cls(path)

    @contextmanager
    def _tx(self):
        with self._lock:
            self.db.begin(write=True)
            try:
                yield
            except BaseException:
                self.db.rollback()
                raise
            self.db.commit()

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self.database.close()

    # ---- feedback ------------------------------------------------------------------------------------
    def save_feedback(self, entry: FeedbackEntry) -> FeedbackEntry:
        """Insert ``entry`` (no id yet) or replace the stored one of the same id and user."""
        if entry.rating not in (None, *RATINGS):
            raise UserDataError(f"rating must be up, down or None, not {entry.rating!r}")
        stamp = now_iso()
        entry.updated_at = stamp
        with self._tx():
            if entry.id:
                row = self.db.execute("SELECT created_at, user_name FROM feedback WHERE id=?", (entry.id,)).fetchone()
                if row is None or row[1] != entry.user_name:
                    raise UserDataError(f"no feedback {entry.id!r} of this user")
                entry.created_at = row[0]
                self.db.execute("DELETE FROM feedback WHERE id=?", (entry.id,))
            else:
                entry.id, entry.created_at = uuid.uuid4().hex, stamp
            values = []
            for col in FEEDBACK_COLUMNS:
                v = getattr(entry, col)
                if col in JSON_COLUMNS:
                    v = json.dumps(v, ensure_ascii=False)
                elif col in ("citation_error", "refused"):
                    v = int(bool(v))
                values.append(v)
            self.db.execute(f"INSERT INTO feedback({', '.join(FEEDBACK_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(FEEDBACK_COLUMNS))})", tuple(values))
        return entry

    def _feedback(self, row: tuple) -> FeedbackEntry:
        d = dict(zip(FEEDBACK_COLUMNS, row))
        for col in JSON_COLUMNS:
            d[col] = json.loads(d[col] or "null") or ({} if col != "sources" else [])
        d["citation_error"], d["refused"] = bool(d["citation_error"]), bool(d["refused"])
        d["comment"] = d["comment"] or ""
        return FeedbackEntry(**d)

    def feedback(self, user_name: str | None = None) -> list[FeedbackEntry]:
        """Every entry (oldest first), or those of one user."""
        sql = f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM feedback"
        rows = self._rows(sql + " WHERE user_name=? ORDER BY created_at, id", (user_name,)) if user_name is not None \
            else self._rows(sql + " ORDER BY created_at, id")
        return [self._feedback(r) for r in rows]

    def feedback_entry(self, entry_id: str) -> FeedbackEntry | None:
        rows = self._rows(f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM feedback WHERE id=?", (entry_id,))
        return self._feedback(rows[0]) if rows else None

    # ---- conversations ---------------------------------------------------------------------------------
    def save_conversation(self, conv: Conversation) -> Conversation:
        """Insert (no id) or update (title and turns) a conversation of ``conv.user_name``."""
        stamp = now_iso()
        title = (conv.title or "").strip() or "未命名对话"
        turns = json.dumps(conv.turns, ensure_ascii=False)
        with self._tx():
            if conv.id:
                cur = self.db.execute("UPDATE conversations SET title=?, turns=?, updated_at=? WHERE id=? AND user_name=?",
                                      (title, turns, stamp, conv.id, conv.user_name))
                if cur.rowcount == 0:
                    raise UserDataError(f"no conversation {conv.id!r} of this user")
            else:
                conv.id, conv.created_at = uuid.uuid4().hex, stamp
                self.db.execute("INSERT INTO conversations(id, user_name, title, created_at, updated_at, turns) "
                                "VALUES (?, ?, ?, ?, ?, ?)", (conv.id, conv.user_name, title, stamp, stamp, turns))
        conv.title, conv.updated_at = title, stamp
        return conv

    def conversations(self, user_name: str) -> list[Conversation]:
        """The user's conversations, the most recently changed first."""
        rows = self._rows("SELECT id, user_name, title, created_at, updated_at, turns FROM conversations "
                          "WHERE user_name=? ORDER BY updated_at DESC, created_at DESC, id", (user_name,))
        return [Conversation(id=r[0], user_name=r[1], title=r[2], created_at=r[3], updated_at=r[4],
                             turns=json.loads(r[5])) for r in rows]

    def conversation(self, conv_id: str, user_name: str) -> Conversation | None:
        """One conversation, only for its own user (None for anyone else's)."""
        rows = self._rows("SELECT id, user_name, title, created_at, updated_at, turns FROM conversations "
                          "WHERE id=? AND user_name=?", (conv_id, user_name))
        if not rows:
            return None
        r = rows[0]
        return Conversation(id=r[0], user_name=r[1], title=r[2], created_at=r[3], updated_at=r[4], turns=json.loads(r[5]))

    def rename_conversation(self, conv_id: str, user_name: str, title: str) -> Conversation:
        conv = self.conversation(conv_id, user_name)
        if conv is None:
            raise UserDataError(f"no conversation {conv_id!r} of this user")
        conv.title = title
        return self.save_conversation(conv)

    def delete_conversation(self, conv_id: str, user_name: str) -> bool:
        with self._tx():
            cur = self.db.execute("DELETE FROM conversations WHERE id=? AND user_name=?", (conv_id, user_name))
            return cur.rowcount > 0
