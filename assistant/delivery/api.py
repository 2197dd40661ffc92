"""JSON HTTP API routes (FastAPI) over ``assistant.delivery.serving.Service``; see that module for the route list."""
from pathlib import Path
from typing import Annotated

# no `from __future__ import annotations`: FastAPI resolves the request models defined in create_api

from .serving import (  # noqa: F401  (re-exported: the API's public helpers)
    Service, ServiceError, check_user, clean_fields, filters_from_json, parse_auth, standalone_question,
)

from .guard import BodyLimit, LoginThrottle, SameOrigin, ThrottledLogin
from .jobs import upload_jobs

JSON_BODY_LIMIT = 4 * 2**20  # a JSON body (questions, metadata, an Answer to export): bounded before it is parsed

# ---- HTTP API ---------------------------------------------------------------------------------------


def create_api(service: Service, users: list[tuple[str, str]] | None = None):
    from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
    from fastapi.responses import JSONResponse, Response
    from fastapi.security import HTTPBasic, HTTPBasicCredentials
    from fastapi.exceptions import RequestValidationError
    from pydantic import BaseModel, ConfigDict, Field

    basic = HTTPBasic(auto_error=False, realm="fazhi")

    settings = service.assistant.settings

    throttle = LoginThrottle(settings.login_attempts, settings.login_window)
    jobs = upload_jobs(service)

    def require_user(request: Request, credentials: HTTPBasicCredentials | None = Depends(basic)) -> str | None:
        if not users:
            return None
        client = request.client.host if request.client else "?"
        if credentials is not None:
            wait = throttle.retry_after(client)
            if wait:
                raise HTTPException(429, throttle.refusal(wait), headers={"Retry-After": str(int(wait))})
        if credentials is None or not check_user(users, credentials.username, credentials.password):
            if credentials is not None:
                throttle.failed(client)
            raise HTTPException(401, "需要登录（HTTP Basic，与网页版相同的用户名和密码） / authentication required",
                                headers={"WWW-Authenticate": 'Basic realm="fazhi"'})
        throttle.succeeded(client)
        return credentials.username

    qmax, cmax, fmax = settings.max_question_chars, settings.max_claim_chars, settings.max_field_chars
    Question = Annotated[str, Field(max_length=qmax)]

    class Loose(BaseModel):
        model_config = ConfigDict(extra="ignore")

    class AskIn(Loose):
        mode: str = Field("ask", max_length=20)
        question: Question = ""
        filters: dict | None = None
        agency: Question | None = None
        claim: Annotated[str, Field(max_length=cmax)] | None = None
        n: int = Field(5, ge=1, le=30)
        history: Annotated[list[Question], Field(max_length=20)] | None = None

    class SearchIn(Loose):
        query: Question = ""
        question: Question | None = None
        filters: dict | None = None
        k: int = Field(10, ge=1, le=50)

    class CheckIn(Loose):
        claim: Annotated[str, Field(max_length=cmax)] = ""
        question: Annotated[str, Field(max_length=cmax)] | None = None
        filters: dict | None = None

    class DraftIn(Loose):
        topic: Question = ""
        question: Question | None = None
        agency: Question | None = None
        filters: dict | None = None

    Text = Annotated[str, Field(max_length=fmax)]

    class RetrievalIn(BaseModel):
        """A retrieval test: the query, the filters and how many passages (at most ``retrieval_test_k``)."""
        model_config = ConfigDict(extra="forbid")
        query: Question
        filters: dict | None = None
        k: int = Field(10, ge=1, le=settings.retrieval_test_k)

    class ChunkEditIn(BaseModel):
        """A correction of one chunk: its new text and/or heading path (at least one of them)."""
        model_config = ConfigDict(extra="forbid", strict=True)
        ordinal: int = Field(ge=0)
        text: Annotated[str, Field(min_length=1, max_length=settings.max_chunk_edit_chars)] | None = None
        heading_path: Annotated[list[Text], Field(max_length=12)] | None = None

    class PatchIn(BaseModel):
        """The editable metadata of a document; an unknown field, a wrong type or an over-long value is a 422."""
        model_config = ConfigDict(extra="forbid", strict=True)
        title: Text | None = None
        issuer: Text | None = None
        region: Text | None = None
        level: Annotated[str, Field(max_length=20)] | None = None
        year: Annotated[int, Field(ge=1949, le=2100)] | Annotated[str, Field(max_length=4)] | None = None
        kind: Annotated[str, Field(max_length=20)] | None = None
        doc_number: Text | None = None

    class AnswerIn(BaseModel):
        """An Answer as /api/ask returns it (what /api/export renders); the parts export reads are typed."""
        model_config = ConfigDict(extra="allow")
        mode: Annotated[str, Field(max_length=20)]
        text: Annotated[str, Field(max_length=settings.max_review_chars)]
        question: Annotated[str, Field(max_length=cmax)] = ""
        refused: bool = False
        verdict: str | None = None
        sources: list[dict] = []
        flags: list[dict] = []
        compare: list[dict] = []
        claims: list[dict] = []
        quiz: list[dict] = []
        draft: list[dict] = []
        requirements: list[dict] = []

    app = FastAPI(title="fazhi API", description="法治政府建设报告助手 JSON 接口", version="1",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")

    def body_limit(path: str) -> int:
        """Bytes a request body may have: a file (at the file limit, plus multipart overhead) on the routes that
        take files — the uploads and review of the API and the web page's own upload route — JSON elsewhere."""
        if path.startswith("/api/") and path not in ("/api/documents", "/api/review"):
            return JSON_BODY_LIMIT
        return service.kb.max_bytes + 2**20

    def too_large(limit: int) -> str:
        mb = service.kb.max_bytes / 2**20
        if limit == JSON_BODY_LIMIT:
            return f"请求内容过大：超过 {limit / 2**20:.0f} MB / request body over {limit / 2**20:.0f} MB"
        return f"上传内容过大：超过 {mb:.0f} MB 的上限（FAZHI_MAX_FILE_MB） / request too large: over the {mb:.0f} MB limit"

    app.add_middleware(BodyLimit, limit_for=body_limit, message=too_large)
    if not users:
        app.add_middleware(SameOrigin)
    else:
        app.add_middleware(ThrottledLogin, throttle=throttle)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(request: Request, exc: RequestValidationError):
        """422 naming each bad field, in Chinese and English (no input echoed back)."""
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body", "type": e.get("type"),
                   "message": e.get("msg")} for e in exc.errors()]
        names = "、".join(dict.fromkeys(e["field"] for e in errors))
        english = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse({"detail": f"请求内容有误，字段：{names} / invalid request: {english}", "errors": errors},
                            status_code=422)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    def _answer(mode: str, question: str, filters: dict | None, **options) -> dict:
        from ..llm import LLMError

        if mode not in ("ask", "compare", "draft", "check", "quiz"):
            raise ServiceError(f"未知模式 {mode!r}；可选 ask compare draft check quiz / unknown mode", 422)
        if not (question or "").strip():
            raise ServiceError("问题不能为空 / question is empty", 422)
        f = filters_from_json(filters)
        try:
            return service.ask(mode, question, f, **options).to_dict()
        except LLMError as exc:
            raise ServiceError(str(exc), 502)

    @app.get("/api/health")
    def health():
        return {"status": "ok", "documents": service.document_count()}  # never waits for the lock

    @app.post("/api/ask")
    def api_ask(body: AskIn, user=Depends(require_user)):
        question = body.question
        standalone = service.rewrite(question, body.history, body.mode) if body.history else question
        out = _answer(body.mode, standalone, body.filters, agency=body.agency, claim=body.claim, n=body.n)
        if standalone != question:
            out["standalone_question"] = standalone
        return out

    @app.post("/api/search")
    def api_search(body: SearchIn, user=Depends(require_user)):
        query = (body.query or body.question or "").strip()
        if not query:
            raise ServiceError("检索内容不能为空 / query is empty", 422)
        return {"query": query, "results": service.search(query, filters_from_json(body.filters), body.k)}

    @app.post("/api/check")
    def api_check(body: CheckIn, user=Depends(require_user)):
        claim = (body.claim or body.question or "").strip()
        return _answer("check", claim, body.filters, claim=claim)

    @app.post("/api/draft")
    def api_draft(body: DraftIn, user=Depends(require_user)):
        topic = (body.topic or body.question or "").strip()
        return _answer("draft", topic, body.filters, agency=body.agency)

    @app.get("/api/documents")
    def api_documents(user=Depends(require_user)):
        docs = service.documents()
        return {"documents": docs, "count": len(docs)}

    @app.post("/api/documents")
    def api_upload(files: list[UploadFile] = File(...), title: str = Form(""), issuer: str = Form(""),
                   region: str = Form(""), year: str = Form(""), kind: str = Form(""), doc_id: str = Form(""),
                   background: bool = False, user=Depends(require_user)):
        if not files:
            raise ServiceError("没有上传文件 / no file", 400)
        if doc_id and len(files) > 1:
            raise ServiceError("doc_id 只能用于单个文件 / doc_id needs exactly one file", 422)
        fields = {"title": title, "issuer": issuer, "region": region, "year": year, "kind": kind}
        clean_fields(fields)  # 422 before reading any file
        limit = service.kb.max_bytes
        if background:  # 202 at once; the jobs' progress at /api/jobs/{id}
            started = [jobs.submit(f.filename or "upload.txt", f.file.read(limit + 1), fields, doc_id or None, user)
                       for f in files]
            return JSONResponse({"jobs": [j.to_dict() for j in started]}, status_code=202)
        results = []
        for f in files:
            data = f.file.read(limit + 1)
            results.append(service.upload(f.filename or "upload.txt", data, fields, doc_id or None))
        summary = {s: sum(1 for r in results if r["status"] == s)
                   for s in ("added", "replaced", "unchanged", "duplicate", "error")}
        summary["embedded"] = sum(r["embedded"] for r in results)
        status = 422 if summary["error"] == len(results) else 200
        return JSONResponse({"files": results, "summary": summary}, status_code=status)

    @app.post("/api/retrieval")
    def api_retrieval(body: RetrievalIn, user=Depends(require_user)):
        """The ranked passages with each one's BM25, dense and fused ranks and scores (the 检索测试 page)."""
        return {"query": body.query, "results": service.retrieval_trace(body.query, filters_from_json(body.filters),
                                                                        body.k)}

    @app.get("/api/documents/{doc_id:path}:chunks")
    def api_chunks(doc_id: str, user=Depends(require_user)):
        """The stored text of a document and its chunks (offsets, page, heading path, edited or not)."""
        return service.document_view(doc_id)

    @app.post("/api/documents/{doc_id:path}:edit-chunk")
    def api_edit_chunk(doc_id: str, body: ChunkEditIn, user=Depends(require_user)):
        if body.text is None and body.heading_path is None:
            raise ServiceError("请给出新的 text 或 heading_path / give text or heading_path", 422)
        return service.edit_chunk(doc_id, body.ordinal, body.text, body.heading_path)

    @app.get("/api/jobs")
    def api_jobs(user=Depends(require_user)):
        return {"jobs": [j.to_dict() for j in jobs.list(user)]}

    @app.get("/api/jobs/{job_id}")
    def api_job(job_id: str, user=Depends(require_user)):
        return jobs.get(job_id, user).to_dict()

    @app.delete("/api/jobs/{job_id}")
    def api_cancel_job(job_id: str, user=Depends(require_user)):
        return jobs.cancel(job_id, user).to_dict()

    @app.post("/api/documents/{doc_id:path}:reingest")
    def api_reingest(doc_id: str, user=Depends(require_user)):
        res = service.reingest(doc_id)
        return JSONResponse(res, status_code=422 if res["status"] == "error" else 200)

    @app.delete("/api/documents/{doc_id:path}")
    def api_delete(doc_id: str, user=Depends(require_user)):
        return {"deleted": doc_id, "chunks": service.delete(doc_id)}

    @app.patch("/api/documents/{doc_id:path}")
    def api_patch(doc_id: str, body: PatchIn, user=Depends(require_user)):
        return service.update(doc_id, body.model_dump(exclude_unset=True))

    @app.post("/api/review")
    def api_review(file: UploadFile | None = File(None), text: str = Form(""), agency: str = Form(""),
                   governing: list[str] = Form([]), format: str = "json", user=Depends(require_user)):
        from .review_export import to_docx, to_markdown

        data = file.file.read() if file is not None else None
        review = service.review(file.filename if file is not None else None, data, text, agency, governing)
        if format == "md":
            return Response(to_markdown(review).encode("utf-8"), media_type="text/markdown; charset=utf-8")
        if format == "docx":
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = to_docx(review, Path(tmp) / "review.docx")
                payload = path.read_bytes()
            return Response(payload, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                            headers={"Content-Disposition": 'attachment; filename="review.docx"'})
        return review.to_dict()

    @app.post("/api/export")
    def api_export(answer: AnswerIn, format: str = "docx", user=Depends(require_user)):
        from . import export

        body = answer.model_dump()
        if format not in ("docx", "md", "markdown"):
            raise ServiceError("format 应为 docx 或 md / format must be docx or md", 422)
        try:
            if format == "docx":
                data = export.to_docx(body)
                media = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            else:
                data = export.to_markdown(body).encode("utf-8")
                media = "text/markdown; charset=utf-8"
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            # a part of the answer with the wrong shape (a source that is not an object, a number as a quote…)
            raise ServiceError(f"回答 JSON 的结构不对，无法导出（{type(exc).__name__}） / the Answer's parts have the "
                               "wrong shape", 422) from None
        from urllib.parse import quote

        name = export.filename(body, "docx" if format == "docx" else "md")
        return Response(data, media_type=media,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    from .api_userdata import add_routes  # feedback and saved conversations
    from .workspace import workspace_of

    add_routes(app, workspace_of(service), require_user, settings)
    return app
