"""API routes for answer feedback and saved conversations (``assistant.delivery.workspace``).

    POST   /api/feedback             {answer, rating: up|down, citation_error, comment, standalone_question, options}
                                     -> the stored entry (201); an entry id in ``id`` changes that entry
    GET    /api/feedback             -> {feedback: [...], count} (the caller's own)
    GET    /api/conversations        -> {conversations: [{id, title, created_at, updated_at, turns}], count}
    POST   /api/conversations        {title, turns} -> the conversation (201)
    GET    /api/conversations/{id}   -> the conversation with its turns (404: none of the caller's)
    PATCH  /api/conversations/{id}   {title, turns} (either) -> the conversation
    DELETE /api/conversations/{id}   -> {deleted}

Everything is per user: the login name, or the one local user without login. The same login and
same-origin rules as the other write routes apply (the app's middleware and ``require_user``).
"""
from typing import Annotated, Literal

# no `from __future__ import annotations`: FastAPI resolves the request models defined in add_routes

from .workspace import Workspace


def add_routes(app, workspace: Workspace, require_user, settings) -> None:
    from fastapi import Depends
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field

    qmax, fmax = settings.max_question_chars, settings.max_field_chars

    class AnswerPart(BaseModel):
        """The Answer being rated (as /api/ask returned it); the parts stored are typed."""
        model_config = ConfigDict(extra="allow")
        mode: Annotated[str, Field(max_length=20)]
        question: Annotated[str, Field(max_length=settings.max_claim_chars)] = ""
        text: Annotated[str, Field(max_length=settings.max_review_chars)] = ""
        refused: bool = False
        sources: Annotated[list[dict], Field(max_length=200)] = []

    class FeedbackIn(BaseModel):
        model_config = ConfigDict(extra="forbid")
        answer: AnswerPart
        rating: Literal["up", "down"] | None = None
        citation_error: bool = False
        comment: Annotated[str, Field(max_length=fmax)] = ""
        standalone_question: Annotated[str, Field(max_length=qmax)] = ""
        options: dict | None = None
        id: Annotated[str, Field(max_length=64)] | None = None

    Turns = Annotated[list[dict], Field(max_length=settings.max_saved_turns)]

    class ConversationIn(BaseModel):
        model_config = ConfigDict(extra="forbid")
        title: Annotated[str, Field(max_length=fmax)] = ""
        turns: Turns = []

    class ConversationPatch(BaseModel):
        model_config = ConfigDict(extra="forbid")
        title: Annotated[str, Field(min_length=1, max_length=fmax)] | None = None
        turns: Turns | None = None

    @app.post("/api/feedback")
    def api_feedback(body: FeedbackIn, user=Depends(require_user)):
        entry = workspace.rate(user, body.answer.model_dump(), body.rating, body.citation_error, body.comment,
                               body.standalone_question, body.options, entry_id=body.id)
        return JSONResponse(entry.to_dict(), status_code=200 if body.id else 201)

    @app.get("/api/feedback")
    def api_feedback_list(user=Depends(require_user)):
        entries = [e.to_dict() for e in workspace.feedback(user)]
        return {"feedback": entries, "count": len(entries)}

    @app.get("/api/conversations")
    def api_conversations(user=Depends(require_user)):
        convs = [c.summary() for c in workspace.conversations(user)]
        return {"conversations": convs, "count": len(convs)}

    @app.post("/api/conversations")
    def api_conversation_new(body: ConversationIn, user=Depends(require_user)):
        turns = [dict(t, status=t.get("status") or "done") for t in body.turns]
        return JSONResponse(workspace.save(user, turns, None, body.title or None).to_dict(), status_code=201)

    @app.get("/api/conversations/{conv_id}")
    def api_conversation(conv_id: str, user=Depends(require_user)):
        return workspace.conversation(conv_id, user).to_dict()

    @app.patch("/api/conversations/{conv_id}")
    def api_conversation_patch(conv_id: str, body: ConversationPatch, user=Depends(require_user)):
        if body.turns is not None:
            turns = [dict(t, status=t.get("status") or "done") for t in body.turns]
            return workspace.save(user, turns, conv_id, body.title).to_dict()
        if body.title is not None:
            return workspace.rename(conv_id, user, body.title).to_dict()
        return workspace.conversation(conv_id, user).to_dict()

    @app.delete("/api/conversations/{conv_id}")
    def api_conversation_delete(conv_id: str, user=Depends(require_user)):
        workspace.delete(conv_id, user)
        return {"deleted": conv_id}
