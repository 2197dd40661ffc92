"""Upload jobs: an upload run in the background with its progress (stage, chunks done, chunks/s, time left) and a
cancel. Parsing and embedding run outside the knowledge-base lock (``Service.upload``), so questions keep being
answered meanwhile; jobs run one at a time (two embeddings at once would only share the same cores), the rest
wait in a queue of bounded length. Finished jobs are kept for a while so a client can read their result."""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
import queue
from dataclasses import dataclass, field

from ingest.limits import CANCELLED

from .serving import Service, ServiceError  # noqa: F401 - Service for the type

QUEUED, PARSING, EMBEDDING, COMMITTING = "queued", "parsing", "embedding", "committing"
DONE, FAILED, CANCELLED_STATE = "done", "error", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED_STATE)
STATE_LABELS = {QUEUED: "排队中", PARSING: "解析中", EMBEDDING: "向量化中", COMMITTING: "写入中",
                DONE: "已完成", FAILED: "失败", CANCELLED_STATE: "已取消"}


@dataclass
class UploadJob:
    id: str
    filename: str
    user: str | None
    state: str = QUEUED
    done: int = 0  # chunks embedded or reused so far
    total: int = 0  # chunks of the document (known once it is parsed)
    created: float = field(default_factory=time.time)
    started: float | None = None
    embedding_started: float | None = None
    finished: float | None = None
    result: dict | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, done: int, total: int) -> None:
        if self.embedding_started is None:
            self.embedding_started = time.monotonic()
        self.done, self.total = done, total
        self.state = COMMITTING if total and done >= total else EMBEDDING

    def to_dict(self) -> dict:
        rate = eta = None
        if self.embedding_started is not None and self.done and self.state == EMBEDDING:
            spent = time.monotonic() - self.embedding_started
            rate = self.done / spent if spent > 0 else None
            eta = (self.total - self.done) / rate if rate else None
        return {"id": self.id, "filename": self.filename, "state": self.state, "label": STATE_LABELS[self.state],
                "done": self.done, "total": self.total,
                "chunks_per_s": round(rate, 2) if rate else None, "seconds_left": round(eta, 1) if eta is not None else None,
                "created": self.created, "started": self.started, "finished": self.finished, "result": self.result}


class UploadJobs:
    """The upload jobs of one server process. ``max_queued``: jobs waiting or running at once (more get a 429);
    ``keep``: finished jobs remembered (oldest forgotten first)."""

    def __init__(self, service: Service, max_queued: int = 8, keep: int = 200) -> None:
        self.service = service
        self.max_queued = max_queued
        self.keep = keep
        self._jobs: OrderedDict[str, UploadJob] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        # a daemon thread: a server stopped mid-upload leaves a pending commit the crash repair completes or undoes
        self._worker = threading.Thread(target=self._loop, name="fazhi-upload", daemon=True)
        self._worker.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run(*item)

    def submit(self, filename: str, data: bytes, fields: dict | None = None, doc_id: str | None = None,
               user: str | None = None) -> UploadJob:
        with self._lock:
            active = sum(1 for j in self._jobs.values() if j.state not in FINISHED)
            if active >= self.max_queued:
                raise ServiceError(f"上传队列已满（{active} 个文件正在处理或排队），请稍后再试 / "
                                   f"too many uploads in progress ({active})", 429)
            job = UploadJob(uuid.uuid4().hex[:12], filename, user)
            self._jobs[job.id] = job
            self._forget_old()
        self._queue.put((job, data, fields, doc_id))
        return job

    def _run(self, job: UploadJob, data: bytes, fields: dict | None, doc_id: str | None) -> None:
        if job.cancel.is_set():
            job.state, job.finished = CANCELLED_STATE, time.time()
            job.result = {"path": job.filename, "status": "error", "message": CANCELLED}
            return
        job.state, job.started = PARSING, time.time()
        try:
            res = self.service.upload(job.filename, data, fields, doc_id, on_progress=job.progress, cancel=job.cancel)
        except Exception as exc:  # noqa: BLE001 - the job reports it; the server goes on
            res = {"path": job.filename, "status": "error", "message": f"{type(exc).__name__}: {exc}"}
        job.result = res
        cancelled = res.get("status") == "error" and res.get("message") == CANCELLED
        job.state = CANCELLED_STATE if cancelled else FAILED if res.get("status") == "error" else DONE
        job.finished = time.time()

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in FINISHED]
        for k in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[k]

    def get(self, job_id: str, user: str | None = None) -> UploadJob:
        job = self._jobs.get(job_id)
        if job is None or (user is not None and job.user not in (None, user)):
            raise ServiceError("没有这个上传任务 / no such upload job", 404)
        return job

    def list(self, user: str | None = None) -> list[UploadJob]:
        return [j for j in reversed(self._jobs.values()) if user is None or j.user in (None, user)]

    def cancel(self, job_id: str, user: str | None = None) -> UploadJob:
        job = self.get(job_id, user)
        if job.state in FINISHED:
            raise ServiceError(f"任务已结束（{STATE_LABELS[job.state]}），无法取消 / the job has already finished", 409)
        job.cancel.set()
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> UploadJob:
        """Block until the job has finished (tests, the CLI)."""
        end = None if timeout is None else time.monotonic() + timeout
        job = self.get(job_id)
        while job.state not in FINISHED and (end is None or time.monotonic() < end):
            time.sleep(0.05)
        return job

    def shutdown(self, timeout: float = 30) -> None:
        """Cancel every job and wait (up to ``timeout`` s) for the running one to stop."""
        for j in self._jobs.values():
            j.cancel.set()
        self._queue.put(None)
        self._worker.join(timeout)


def upload_jobs(service: Service) -> UploadJobs:
    """The one job queue of a service (the API and the web page share it)."""
    jobs = getattr(service, "upload_jobs", None)
    if jobs is None:
        jobs = service.upload_jobs = UploadJobs(service, service.assistant.settings.max_queued_uploads)
    return jobs
