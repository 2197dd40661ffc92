"""The service behind the web app and the JSON HTTP API (routes in ``assistant.delivery.api``).

``Service`` wraps one ``Assistant`` (one knowledge base, one writer). Reads and the short commits of
writes go through one lock; the long parts of a write — parsing (in a bounded worker process) and embedding
— run before it, so questions are answered from the last committed generation while an upload is
ingested, and ``/api/health`` takes no lock at all. A generation written by another process is noticed
at the lock (one SQLite read) and the vector index re-opened. It also rewrites a follow-up question with the chat history before retrieval
(``standalone_question``) and keeps a copy of uploaded files so a document can be re-ingested.

``create_api(service, users)`` builds the FastAPI app with the ``/api/*`` routes; ``assistant.delivery.web``
mounts the Gradio UI beside them. Routes (JSON unless noted; HTTP Basic auth when users are set):

    POST   /api/ask                 {mode, question, filters, agency, claim, n, history} -> Answer
    POST   /api/search              {query, filters, k} -> {query, results}
    POST   /api/check               {claim, filters} -> Answer (mode check)
    POST   /api/draft               {topic, agency, filters} -> Answer (mode draft)
    GET    /api/documents           -> {documents, count}
    POST   /api/documents           multipart files=…[, title, issuer, region, year, kind, doc_id] -> {files, summary}
           ?background=true         -> 202 {jobs}: each file an upload job (assistant.delivery.jobs)
    GET    /api/jobs                -> {jobs}: the user's upload jobs, newest first
    GET    /api/jobs/{id}           -> job {state, label, done, total, chunks_per_s, seconds_left, result}
    DELETE /api/jobs/{id}           -> job (cancelled; 409 once it has finished)
    DELETE /api/documents/{id}      -> {deleted, chunks}
    PATCH  /api/documents/{id}      {title, issuer, region, year, kind, level, doc_number} -> document
    POST   /api/documents/{id}:reingest  -> file result (re-reads the original file)
    POST   /api/export?format=docx|md    Answer JSON -> file
    POST   /api/review?format=json|md|docx  multipart file=… or text=…[, agency, governing=DOC_ID…] -> review
    GET    /api/health              -> {status, documents} (no auth)
    …/api/feedback, /api/conversations[/{id}]: answer feedback and saved conversations (``api_userdata``)
"""
import logging
import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.metadata import Meta
from vectorstore.retrieve import KINDS, FilterError, Filters
from vectorstore.retrieve import parse_year_range as _parse_year_range

from .errors import ServiceError
from .serving_docs import DocumentViews

log = logging.getLogger("fazhi.web")

EDITABLE = ("title", "issuer", "region", "level", "year", "kind", "doc_number")
SUPPORTED = SUPPORTED_SUFFIXES



# ---- auth ---------------------------------------------------------------------------------------

def parse_auth(spec: str | None) -> list[tuple[str, str]]:
    """``user:password[,user2:pw2]`` -> [(user, password), …]; empty/None -> []."""
    users: list[tuple[str, str]] = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        user, sep, pw = part.partition(":")
        if not sep or not user.strip() or not pw:
            raise ValueError(f"登录设置格式应为 用户名:密码[,用户名2:密码2]，无法解析 {part.split(':')[0]!r}… / "
                             "auth must look like user:password[,user2:pw2]")
        users.append((user.strip(), pw))
    return users


def check_user(users: list[tuple[str, str]], username: str, password: str) -> bool:
    ok = False
    for u, p in users:  # compare every entry: no timing hint about which user exists
        ok |= secrets.compare_digest(u.encode(), (username or "").encode()) & \
            secrets.compare_digest(p.encode(), (password or "").encode())
    return bool(ok)


# ---- filters --------------------------------------------------------------------------------------

def parse_year_range(year: Any) -> tuple[int | None, int | None]:
    """``2019`` / ``"2018-2021"`` / ``"2018-"`` -> (from, to)."""
    try:
        return _parse_year_range(year)
    except FilterError as e:
        raise ServiceError(str(e), 422) from None


def filters_from_json(d: dict | None) -> Filters | None:
    """The JSON form of Filters (see ``Filters.parse``); a bad filter is a 422."""
    try:
        return Filters.parse(d)
    except FilterError as e:
        raise ServiceError(str(e), 422) from None


# ---- follow-up questions ----------------------------------------------------------------------------

_LEAD = re.compile(r"^(?:那么|那|还有|另外|此外|再问一下|再问|顺便问一下|接着问|接着|然后|同时|以及|并且|请问)[，,、\s]*")
_PRONOUN = re.compile(r"它们|他们|她们|它|该(?:单位|局|县|市|区|委|办|部门|机关|政府|文件|报告|条例|法)|"
                      r"这个(?:单位|部门|文件|报告|地方)|这份(?:报告|文件)|上述(?:单位|文件|报告)|这家单位|其(?![他它中余次实])(?=[\u4e00-\u9fa5])|当地|那里|这里")
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年度?")
_TAIL = re.compile(r"(?:的情况|情况)?(?:呢|怎么样|如何)?[？?。！!\s]*$")


def _names_in(text: str, retriever) -> list[str]:
    """Agency/place/document names of the knowledge base that occur in ``text``, in order; adjacent
    names are joined (甲县 + 司法局 -> 甲县司法局)."""
    return retriever.catalog.names_in(text)


def standalone_question(question: str, history: list[str], retriever=None, backend=None) -> str:
    """Rewrite a follow-up (那2020年呢？/ 它的行政复议情况呢？/ 那天津市人防办呢？) into a question that
    stands alone, using the previous questions (already standalone). Unchanged when it needs nothing."""
    q = (question or "").strip()
    prev = next((h.strip() for h in reversed(history or []) if h and h.strip()), "")
    if not q or not prev:
        return q
    if backend is not None:
        rewritten = _llm_rewrite(q, [h for h in history if h][-3:], backend)
        if rewritten:
            return rewritten
    names_prev = _names_in(prev, retriever) if retriever is not None else []
    names_cur = _names_in(q, retriever) if retriever is not None else []
    lead = _LEAD.match(q)
    body = q[lead.end():] if lead else q
    pronoun = _PRONOUN.search(body)
    core = _TAIL.sub("", body).strip("，,、 ")
    elliptic = bool(re.search(r"呢[？?]?\s*$", q))
    follow = bool(lead) or bool(pronoun) or elliptic
    if not follow:
        return q
    # 那天津市人防办呢？ -> the previous question about another agency
    if names_cur and names_prev and core and len(core) <= max(len("".join(names_cur)) + 6, 12):
        new = prev
        for old, rep in zip(names_prev, names_cur + names_cur[-1:] * len(names_prev)):
            new = new.replace(old, rep, 1)
        years = _YEAR.findall(core)
        if years and _YEAR.search(new):
            new = _YEAR.sub(years[0], new, count=1)
        return new if new != prev else q
    # 那2020年呢？ -> the previous question for another year
    years = _YEAR.findall(core)
    if years and re.fullmatch(r"[\s\d年度]*", _YEAR.sub("", core) or "") and _YEAR.search(prev):
        return _YEAR.sub(years[0], prev, count=1)
    if names_cur:
        return q  # names its own subject: a new question
    subject = names_prev[0] if names_prev else ""
    if not subject:
        return q
    if pronoun:
        return body[: pronoun.start()] + subject + body[pronoun.end():]
    return f"{subject}{body}"


def _llm_rewrite(question: str, history: list[str], backend) -> str:
    system = ("你负责把对话中的追问改写成一个可以独立理解的完整问题，补全省略的单位、地区、年份和主题。"
              "只输出改写后的问题本身，不要回答，不要解释。如果问题本身已经完整，原样输出。")
    user = "此前的问题：\n" + "\n".join(f"- {h}" for h in history) + f"\n\n追问：{question}\n\n改写后的问题："
    try:
        out = backend.complete(system, user).strip().strip("“”\"'").splitlines()
    except Exception as exc:  # the rule-based rewrite takes over
        log.warning("follow-up rewrite by the LLM failed: %s", exc)
        return ""
    out = out[0].strip() if out else ""
    return out if 2 <= len(out) <= 300 else ""


# ---- the service -------------------------------------------------------------------------------

def safe_doc_id(name: str, folder: str = "uploads") -> str:
    """``../x/报告.pdf`` -> ``uploads/报告.pdf`` (a file name only, under a folder)."""
    base = PurePosixPath(str(name).replace("\\", "/")).name.strip()
    base = re.sub(r"[\x00-\x1f]", "", base).lstrip(".") or "upload.txt"
    return f"{folder}/{base}" if folder else base


def meta_from(fields: dict | None) -> Meta | None:
    if not fields:
        return None
    clean = clean_fields(fields)
    return Meta(**clean) if clean else None


def clean_fields(fields: dict) -> dict:
    """Validated editable metadata (empty strings dropped; year -> int; kind checked)."""
    out: dict[str, Any] = {}
    for k, v in fields.items():
        if k not in EDITABLE:
            raise ServiceError(f"不能修改字段 {k!r}；可修改：{', '.join(EDITABLE)} / field not editable", 422)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if k == "year":
            try:
                v = int(str(v).strip())
            except ValueError:
                raise ServiceError(f"年份必须是整数：{v!r} / year must be an integer", 422)
            if not 1949 <= v <= 2100:
                raise ServiceError(f"年份超出范围：{v} / year out of range", 422)
        elif k == "kind":
            v = str(v).strip()
            if v not in KINDS:
                raise ServiceError(f"未知的文档类型 {v!r}；可选 {', '.join(KINDS)} / unknown kind", 422)
        else:
            v = str(v).strip()
        out[k] = v
    return out


FOLLOW_UP_MODES = ("ask", "compare")  # draft/quiz take a topic, check a literal claim: never rewritten


class Service(DocumentViews):
    def __init__(self, assistant) -> None:
        self.assistant = assistant
        self.kb = assistant.kb
        self.lock = threading.RLock()
        self.originals = Path(self.kb.store.folder) / "originals"

    @contextmanager
    def locked(self):
        """The knowledge base for one request: reads and the short commits of writes hold it (parsing and
        embedding of uploads run before it). A generation written by another process (``fazhi ingest`` on
        the served folder, another app server on the same database) is noticed here — one indexed read —
        and the vector index is re-opened; the BM25 index and the catalogue follow the generation by
        themselves. A write a dead process left half-done is repaired here too."""
        t = time.monotonic()
        with self.lock:
            waited = time.monotonic() - t
            if waited > 1:
                log.info("request waited %.1fs for the knowledge base", waited)
            self.notice_other_writers()
            yield

    def notice_other_writers(self) -> bool:
        store = self.kb.store
        if store.repair_abandoned():  # another app server died mid-write: its half is undone here
            log.warning("repaired a write another process left unfinished: %s", store.last_reconcile)
        if not store.foreign_write():
            return False
        log.info("the knowledge base was changed by another process: reloading its vector index")
        store.reload_vectors()
        return True

    def document_count(self) -> int:
        """For /api/health: a read on this thread's own SQLite connection, never the lock."""
        return len(self.kb.store.documents())

    # ---- questions ----
    def rewrite(self, question: str, history: list[str] | None, mode: str = "ask") -> str:
        if not history or mode not in FOLLOW_UP_MODES:
            return (question or "").strip()
        with self.locked():
            return standalone_question(question, history, self.assistant.retriever, self.assistant.backend)

    def ask(self, mode: str, question: str, filters: Filters | None = None, on_token: Callable | None = None,
            agency: str | None = None, claim: str | None = None, n: int | None = None):
        with self.locked():
            return self.assistant.run(mode, question, filters, on_token=on_token, agency=agency or None,
                                      claim=claim or None, n=n or 5)

    def check_length(self, text: str | None, limit: int, what: str = "问题", name: str = "question") -> None:
        if text and len(text) > limit:
            raise ServiceError(f"{what}过长：{len(text):,} 字，上限 {limit:,} 字 / {name} too long: {len(text):,} "
                               f"characters, the limit is {limit:,}", 422)

    def search(self, query: str, filters: Filters | None = None, k: int = 10) -> list[dict]:
        self.check_length(query, self.assistant.settings.max_question_chars, "检索内容", "query")
        with self.locked():
            return [h.to_dict() for h in self.assistant.retriever.search(query, filters, k=k)]

    # ---- documents ----
    def documents(self) -> list[dict]:
        with self.locked():
            return self.kb.documents()

    def document(self, doc_id: str) -> dict | None:
        return next((d for d in self.documents() if d["id"] == doc_id), None)

    def facets(self) -> dict:
        docs = self.documents()
        return {"issuers": sorted({d["issuer"] for d in docs if d.get("issuer")}),
                "regions": sorted({d["region"] for d in docs if d.get("region")}),
                "years": sorted({d["year"] for d in docs if d.get("year")}),
                "documents": len(docs), "chunks": sum(d.get("chunks") or 0 for d in docs)}

    def upload(self, filename: str, data: bytes, fields: dict | None = None, doc_id: str | None = None,
               on_progress=None, cancel=None) -> dict:
        """Ingest one uploaded file; returns the FileResult as a dict (status added|replaced|unchanged|duplicate|error).
        ``on_progress(done, total)`` follows the embedding; setting the event ``cancel`` stops it (see jobs.py)."""
        doc_id = doc_id.strip() if doc_id and doc_id.strip() else safe_doc_id(filename)
        if PurePosixPath(doc_id).suffix.lower() not in SUPPORTED:
            return {"path": filename, "doc_id": doc_id, "status": "error", "chunks": 0, "embedded": 0,
                    "message": f"不支持的文件类型 {PurePosixPath(filename).suffix or '(无扩展名)'}；支持 "
                               f"{' '.join(SUPPORTED)} / unsupported file type"}
        try:
            overrides = meta_from(fields)
        except ServiceError as exc:
            return {"path": filename, "doc_id": doc_id, "status": "error", "chunks": 0, "embedded": 0, "message": str(exc)}
        # parsed (worker process) and embedded outside the lock; only the commit holds it
        res = self.kb.ingest_bytes(doc_id, data, overrides, commit_lock=self.locked, on_progress=on_progress,
                                   cancel=cancel)
        if res.status in ("added", "replaced"):
            self._keep_original(res.doc_id or doc_id, data)  # under the id the knowledge base gave it
        out = asdict(res)
        out["path"] = filename
        return out

    def _original_path(self, doc_id: str) -> Path:
        p = (self.originals / doc_id).resolve()
        if self.originals.resolve() not in p.parents:
            raise ServiceError("非法的文档编号 / invalid document id", 422)
        return p

    def _keep_original(self, doc_id: str, data: bytes) -> None:
        try:
            p = self._original_path(doc_id)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        except (OSError, ServiceError) as exc:
            log.warning("could not keep the original of %s: %s", doc_id, exc)

    def original(self, doc_id: str) -> bytes | None:
        """The file a document was made from: the kept upload, else the corpus file of the same id."""
        candidates = [self._original_path(doc_id)]
        for folder in self.assistant.settings.corpus_paths:
            root = folder.expanduser().resolve()
            p = (root / doc_id).resolve()
            if root in p.parents:
                candidates.append(p)
        for p in candidates:
            if p.is_file():
                return p.read_bytes()
        return None

    def delete(self, doc_id: str) -> int:
        from vectorstore.store import KnowledgeBaseError

        with self.locked():
            try:
                n = self.kb.delete(doc_id)
            except KnowledgeBaseError:
                raise ServiceError(f"知识库中没有文档 {doc_id} / no such document", 404)
            try:
                self._original_path(doc_id).unlink(missing_ok=True)
            except (OSError, ServiceError):
                pass
            return n

    def update(self, doc_id: str, fields: dict) -> dict:
        from vectorstore.store import KnowledgeBaseError

        clean = clean_fields(fields)
        if not clean:
            raise ServiceError("没有要修改的字段 / nothing to update", 422)
        with self.locked():
            try:
                self.kb.update_metadata(doc_id, **clean)
            except KnowledgeBaseError:
                raise ServiceError(f"知识库中没有文档 {doc_id} / no such document", 404)
            return next(d for d in self.kb.documents() if d["id"] == doc_id)

    def reingest(self, doc_id: str) -> dict:
        """Re-read the original file and re-process it (load, clean, chunk, embed — cached vectors are
        reused), keeping the document's current metadata."""
        from ingest.pipeline import file_hash, fingerprint
        from ingest.records import IngestError

        current = self.document(doc_id)
        if current is None:
            raise ServiceError(f"知识库中没有文档 {doc_id} / no such document", 404)
        data = self.original(doc_id)
        if data is None:
            return {"path": doc_id, "doc_id": doc_id, "status": "error", "chunks": 0, "embedded": 0,
                    "message": "找不到原始文件，请用“上传新版本”重新上传 / original file not found; upload a new version"}
        overrides = Meta(**{k: current.get(k) or ("" if k != "year" else None) for k in EDITABLE})
        # parsed and embedded outside the lock, committed under it
        try:
            prep = self.kb.prepare(doc_id, data, PurePosixPath(doc_id).suffix, None, overrides)
            # the same identity as a plain upload of this file: uploading it again is "unchanged"
            prep.document.fingerprint = fingerprint(file_hash(data))
            embedded = self.kb._commit(prep, None, self.locked)
        except IngestError as exc:
            return {"path": doc_id, "doc_id": doc_id, "status": "error", "chunks": 0, "embedded": 0,
                    "message": str(exc)}
        return {"path": doc_id, "doc_id": doc_id, "status": "replaced", "chunks": len(prep.chunks),
                "embedded": embedded, "ocr_pages": prep.ocr_pages,
                "message": "已从原始文件重新导入 / re-ingested from the original file"}

    # ---- whole-report review ----
    def review(self, filename: str | None, data: bytes | None, text: str | None, agency: str | None = None,
               governing: list[str] | None = None):
        """Review a draft report given as an uploaded file or as text (see ``assistant.review``)."""
        from ingest.records import IngestError
        from ingest.worker import extract_text_bounded

        from ..review import review_text

        settings = self.assistant.settings
        self.check_length(agency, settings.max_question_chars, "单位名称", "agency")
        self.check_length(text, settings.max_review_chars, "报告全文", "text")
        if data:
            suffix = PurePosixPath(filename or "draft.txt").suffix.lower()
            if suffix not in SUPPORTED:
                raise ServiceError(f"不支持的文件类型 {suffix or '（无）'}，请上传 {' / '.join(SUPPORTED)}", 415)
            if len(data) > self.kb.max_bytes:
                raise ServiceError(f"文件过大：超过 {self.kb.max_bytes / 2**20:.0f} MB 的上限（FAZHI_MAX_FILE_MB） / "
                                   "file too large", 413)
            # parsed in a worker process: bounded unpacked size, text, time and memory
            limits = replace(self.kb.limits, max_text_chars=min(self.kb.limits.max_text_chars, 4 * settings.max_review_chars))
            try:
                text = extract_text_bounded(data, suffix, limits)
            except IngestError as exc:
                raise ServiceError(f"无法读取报告：{exc}", 422) from exc
            self.check_length(text, settings.max_review_chars, "报告全文（FAZHI_MAX_REVIEW_CHARS）", "draft text")
        if not (text or "").strip():
            raise ServiceError("请上传报告文件或粘贴报告全文 / give a file or the text of the draft", 422)
        known = {d["id"] for d in self.documents()}
        unknown = [g for g in governing or [] if g not in known]
        if unknown:
            raise ServiceError(f"知识库中没有这些文件：{'、'.join(unknown)}", 404)
        with self.locked():
            return review_text(text, self.assistant.context(), agency or None, list(governing or []))

