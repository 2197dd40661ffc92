"""Feedback on answers and saved conversations, for the web app and the API (storage: ``vectorstore.userdata``).

``Workspace`` sits beside ``Service`` over the same knowledge base: it records a rating of an answer together
with what the answer was given from (question, the question as answered, sources, the request's filters and
options, the backend and the answering thresholds in force), and keeps each user's conversations.
"""
from __future__ import annotations

from pathlib import Path

from vectorstore.userdata import LOCAL_USER, Conversation, FeedbackEntry, UserData, UserDataError

from .serving import ServiceError

TITLE_CHARS = 30  # a new conversation is titled by its first question, cut to this many characters
# the settings an answer depends on, stored with its feedback so it can be reproduced
ANSWER_SETTINGS = ("llm_backend", "llm_model", "embedder", "k", "min_evidence", "focus_min", "keep_ratio",
                   "max_sentences", "semantic_weight", "semantic_depth", "support_min", "related_min",
                   "requirement_min", "compare_topic_min", "citation_support_min")
TURN_KEYS = ("id", "mode", "question", "standalone", "status", "answer", "error", "feedback", "options")


def user_of(name: str | None) -> str:
    """The login name, or the single local user of an app without login."""
    return (name or "").strip() or LOCAL_USER


def title_for(question: str) -> str:
    q = " ".join((question or "").split())
    return (q[:TITLE_CHARS] + "…") if len(q) > TITLE_CHARS else (q or "未命名对话")


def stored_turns(turns: list[dict]) -> list[dict]:
    """The finished turns as they are saved (a turn still being answered is not)."""
    return [{k: t[k] for k in TURN_KEYS if k in t} for t in turns or [] if t.get("status") in ("done", "error")]


class Workspace:
    def __init__(self, service) -> None:
        self.service = service
        self.settings = service.assistant.settings
        self._data: UserData | None = None

    @property
    def data(self) -> UserData:
        """The store, opened on first use (a folder that cannot be written fails here, not at start-up)."""
        if self._data is None:
            try:
                store = self.service.kb.store  # the shared PostgreSQL database, else the folder's fazhi.sqlite3
                self._data = UserData(store.database if store.database.url else Path(store.db_path))
            except UserDataError as exc:
                raise ServiceError(f"无法保存反馈和对话：{exc} / user data unavailable", 503) from None
        return self._data

    def settings_snapshot(self, options: dict | None = None) -> dict:
        s = {k: getattr(self.settings, k, None) for k in ANSWER_SETTINGS}
        return {"request": dict(options or {}), "assistant": {k: (str(v) if isinstance(v, Path) else v)
                                                             for k, v in s.items()}}

    # ---- feedback ----
    def rate(self, user: str | None, answer: dict, rating: str | None = None, citation_error: bool = False,
             comment: str = "", standalone: str = "", options: dict | None = None, entry_id: str | None = None,
             conversation_id: str | None = None, turn_id: int | None = None) -> FeedbackEntry:
        """Record (or, with ``entry_id``, change) the feedback of ``user`` on ``answer`` (an Answer dict)."""
        if rating not in (None, "up", "down"):
            raise ServiceError("rating 应为 up 或 down / rating must be up or down", 422)
        if rating is None and not citation_error and not (comment or "").strip():
            raise ServiceError("反馈为空：请选择有帮助、没帮助或引用有误 / empty feedback", 422)
        entry = FeedbackEntry(
            user_name=user_of(user), mode=str(answer.get("mode") or "ask"), question=str(answer.get("question") or ""),
            answer_text=str(answer.get("text") or ""), rating=rating, citation_error=bool(citation_error),
            comment=(comment or "").strip()[: self.settings.max_field_chars], standalone=(standalone or "").strip(), refused=bool(answer.get("refused")),
            sources=list(answer.get("sources") or []), answer=dict(answer), settings=self.settings_snapshot(options),
            conversation_id=conversation_id, turn_id=turn_id, id=entry_id or "")
        try:
            return self.data.save_feedback(entry)
        except UserDataError:
            raise ServiceError("没有这条反馈 / no such feedback", 404) from None

    def feedback(self, user: str | None) -> list[FeedbackEntry]:
        return self.data.feedback(user_of(user))

    # ---- conversations ----
    def conversations(self, user: str | None) -> list[Conversation]:
        return self.data.conversations(user_of(user))

    def conversation(self, conv_id: str, user: str | None) -> Conversation:
        conv = self.data.conversation(conv_id, user_of(user))
        if conv is None:
            raise ServiceError("没有这个对话 / no such conversation", 404)
        return conv

    def save(self, user: str | None, turns: list[dict], conv_id: str | None = None,
             title: str | None = None) -> Conversation:
        """Create (no ``conv_id``) or update a conversation with these turns; a new one is titled by its
        first question unless ``title`` is given."""
        kept = stored_turns(turns)[-max(1, int(self.settings.max_saved_turns)):]
        if conv_id:
            conv = self.conversation(conv_id, user)
            conv.turns = kept
            if title is not None:
                conv.title = title
        else:
            conv = Conversation(user_name=user_of(user), title=title or title_for(kept[0]["question"] if kept else ""),
                                turns=kept)
        return self.data.save_conversation(conv)

    def rename(self, conv_id: str, user: str | None, title: str) -> Conversation:
        if not (title or "").strip():
            raise ServiceError("标题不能为空 / title is empty", 422)
        try:
            return self.data.rename_conversation(conv_id, user_of(user), title.strip()[:200])
        except UserDataError:
            raise ServiceError("没有这个对话 / no such conversation", 404) from None

    def delete(self, conv_id: str, user: str | None) -> None:
        if not self.data.delete_conversation(conv_id, user_of(user)):
            raise ServiceError("没有这个对话 / no such conversation", 404)

    def close(self) -> None:
        if self._data is not None:
            self._data.close()
            self._data = None


def workspace_of(service) -> Workspace:
    """The one Workspace of a Service (made on first use: the API and the web page share it)."""
    ws = getattr(service, "_workspace", None)
    if ws is None:
        ws = service._workspace = Workspace(service)
    return ws
