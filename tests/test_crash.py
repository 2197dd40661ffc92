"""Crash safety of the knowledge base's single write path.

1. Every step of the commit protocol, one at a time: a write (replace a document, delete one, edit
   metadata) dies right after step k, for every k; the knowledge base reopened is consistent and
   holds either the old or the new state of the document, never a mix.  Dying again during the
   repair is survived too.
2. Real processes: ``eval.crash`` SIGKILLs ingest workers at random points (a reduced number of
   runs here; ``python -m eval.crash --runs 60`` or ``FAZHI_CRASH_RUNS=60`` for the full form),
   restarts them and checks every time, and a last run completes the job.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import TINY_REPORT, write_tiny_corpus
from ingest.pipeline import prepare
from vectorstore.kb import KnowledgeBase
from vectorstore.store import Store

# the next version of a.txt: another year in the title (so kept chunks get new metadata), one
# section rewritten (new chunk ids, old ones stale) and one added
A_V2 = (TINY_REPORT.replace("2020年", "2021年")
        .replace("评查案卷46卷", "评查案卷52卷")
        + "四、其他事项\n全年接待群众来访89人次，全部依法妥善处理。\n")


class Crash(BaseException):
    """The process "dies" here (BaseException: nothing on the way catches it)."""


class CrashAt:
    """Counts the steps of the write path and dies at step ``target``.

    Steps: the pending mark written; before and after every Chroma write; the SQLite transaction
    (dying inside it, before COMMIT); the pending mark cleared (dying just before)."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.n = 0
        self.where: list[str] = []

    def tick(self, label: str) -> None:
        self.n += 1
        self.where.append(label)
        if self.target is not None and self.n == self.target:
            raise Crash(f"step {self.n}: {label}")


class _CollectionProxy:
    def __init__(self, real, crash: CrashAt) -> None:
        self._real, self._crash = real, crash

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if name not in ("add", "upsert", "update", "delete"):
            return attr

        def wrapped(*args, **kwargs):
            self._crash.tick(f"before chroma {name}")
            out = attr(*args, **kwargs)
            self._crash.tick(f"after chroma {name}")
            return out
        return wrapped


@contextmanager
def crashing(store: Store, crash: CrashAt):
    """Within the block, ``store``'s writes count their steps and die at ``crash.target``."""
    mp = pytest.MonkeyPatch()
    real_mark, real_clear, real_tx = Store._mark_pending, Store._clear_pending, Store._tx

    def mark(self, doc_ids):
        real_mark(self, doc_ids)
        crash.tick("pending marked")

    def clear(self):
        crash.tick("before pending cleared")
        real_clear(self)

    @contextmanager
    def tx(self):
        with real_tx(self):
            yield
            crash.tick("inside the SQLite transaction, before COMMIT")

    mp.setattr(Store, "_mark_pending", mark)
    mp.setattr(Store, "_clear_pending", clear)
    mp.setattr(Store, "_tx", tx)
    mp.setattr(store, "collection", _CollectionProxy(store.collection, crash))
    try:
        yield crash
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A closed knowledge base of the tiny corpus whose embedding cache also holds a.txt's next
    version (so the writes below need no model time)."""
    root = tmp_path_factory.mktemp("crash-base")
    src = write_tiny_corpus(root / "src")
    kb = KnowledgeBase(root / "kb")
    kb.ingest([src], progress=False)
    (src / "a.txt").write_text(A_V2, encoding="utf-8")
    kb.ingest([src], progress=False)
    (src / "a.txt").write_text(TINY_REPORT, encoding="utf-8")
    kb.ingest([src], progress=False)
    assert kb.store.check() == {}
    kb.close()
    return root


def _chunk_ids(store: Store, doc_id: str) -> list[str]:
    return sorted(c.id for c in store.doc_chunks(doc_id))


def _op_replace(kb: KnowledgeBase) -> None:
    kb.ingest_bytes("a.txt", A_V2.encode("utf-8"))


def _op_delete(kb: KnowledgeBase) -> None:
    kb.delete("b.md")


def _op_update(kb: KnowledgeBase) -> None:
    kb.update_metadata("c.txt", issuer="丙省人大常委会", year=2020)


def _state_replace(store: Store) -> str:
    doc = store.document("a.txt")
    for name, text in (("old", TINY_REPORT), ("new", A_V2)):
        want = prepare("a.txt", text.encode("utf-8"), ".txt")
        if doc.content_hash == want.document.content_hash:
            assert doc.text == want.document.text and doc.year == want.document.year
            assert _chunk_ids(store, "a.txt") == sorted(c.id for c in want.chunks)
            return name
    raise AssertionError("a.txt is neither version")


def _state_delete(store: Store) -> str:
    if store.document("b.md") is None:
        assert not _chunk_ids(store, "b.md")
        assert not store.collection.get(where={"doc_id": "b.md"}, include=[])["ids"]
        return "new"
    assert _chunk_ids(store, "b.md")
    return "old"


def _state_update(store: Store) -> str:
    d = store.document("c.txt")
    state = "new" if (d.issuer, d.year) == ("丙省人大常委会", 2020) else "old"
    if state == "old":
        assert d.year == 2019 and d.issuer != "丙省人大常委会"
    metas = store.collection.get(where={"doc_id": "c.txt"}, include=["metadatas"])["metadatas"]
    assert metas and all((m["issuer"], m["year"]) == (d.issuer, d.year) for m in metas)
    return state


OPS = {"replace": (_op_replace, _state_replace), "delete": (_op_delete, _state_delete),
       "update_metadata": (_op_update, _state_update)}


def _fresh(base: Path, tmp_path: Path, k: int) -> Path:
    folder = tmp_path / f"kb-{k}"
    shutil.copytree(base / "kb", folder)
    return folder


@pytest.mark.parametrize("op", sorted(OPS))
def test_dying_at_every_step_of_a_write_leaves_old_or_new_never_a_mix(base, tmp_path, monkeypatch, op):
    run_op, state_of = OPS[op]
    # a dry run counts the steps
    folder = _fresh(base, tmp_path, 0)
    kb = KnowledgeBase(folder)
    with crashing(kb.store, CrashAt(None)) as counter:
        run_op(kb)
    steps = counter.n
    assert steps >= 5, counter.where
    assert state_of(kb.store) == "new" and kb.store.check() == {}
    kb.close()

    outcomes = {}
    for k in range(1, steps + 1):
        folder = _fresh(base, tmp_path, k)
        kb = KnowledgeBase(folder)
        with pytest.raises(Crash):
            with crashing(kb.store, CrashAt(k)):
                run_op(kb)
        kb.close()  # the process is gone; the next one opens the folder
        reopened = KnowledgeBase(folder)
        try:
            assert reopened.store.get_state("pending") is None
            assert reopened.store.check() == {}, (k, counter.where[k - 1])
            outcomes[counter.where[k - 1]] = state_of(reopened.store)
            if outcomes[counter.where[k - 1]] == "old":  # the interrupted write simply runs again
                run_op(reopened)
                assert state_of(reopened.store) == "new" and reopened.store.check() == {}
        finally:
            reopened.close()
    # before the SQLite commit the old state stands; after it, the new one
    assert outcomes["pending marked"] == "old"
    assert outcomes["inside the SQLite transaction, before COMMIT"] == "old"
    assert outcomes["before pending cleared"] == "new"


def test_dying_again_during_the_repair(base, tmp_path):
    """A crash mid-replace (new vectors in Chroma, SQLite not committed), then a crash at each step
    of the repair the next open runs: the open after that still ends consistent, with the old version."""
    folder = _fresh(base, tmp_path, 0)
    kb = KnowledgeBase(folder)
    with crashing(kb.store, CrashAt(None)) as counter:
        _op_replace(kb)
    first = counter.where.index("after chroma upsert") + 1
    kb.close()

    real_recover = Store._recover
    k, repair_steps = 0, []
    while True:
        k += 1
        folder = _fresh(base, tmp_path, 100 + k)
        kb = KnowledgeBase(folder)
        with pytest.raises(Crash):
            with crashing(kb.store, CrashAt(first)):
                _op_replace(kb)
        kb.close()
        crash = CrashAt(k)

        def recover(self, force=False, crash=crash):
            with crashing(self, crash):
                return real_recover(self, force)

        mp = pytest.MonkeyPatch()
        mp.setattr(Store, "_recover", recover)
        try:
            KnowledgeBase(folder).close()  # opening repairs … and dies at step k of the repair
            died = False
        except Crash:
            died = True
        finally:
            mp.undo()
        repair_steps = crash.where
        final = KnowledgeBase(folder)
        try:
            assert final.store.check() == {}, (k, crash.where)
            assert _state_replace(final.store) == "old"
            assert final.store.last_reconcile is not None or not died
        finally:
            final.close()
        if not died:
            break
    assert k >= 4, repair_steps  # orphans deleted, metadata rewritten, mark cleared: each step survived


@pytest.mark.slow
def test_sigkill_at_random_points_across_runs(tmp_path):
    """Real processes, real SIGKILL (reduced here; FAZHI_CRASH_RUNS or `python -m eval.crash` for more)."""
    from eval import crash

    runs = int(os.environ.get("FAZHI_CRASH_RUNS", "6"))
    report = crash.run(runs=runs, seed=int(os.environ.get("FAZHI_CRASH_SEED", "20")), workdir=tmp_path,
                       log=print)
    assert report["problems"] == [], "\n".join(report["problems"])
    assert report["killed"] + report["kills_during_open"] >= max(1, runs // 2), report
    assert report.get("final_documents", 0) >= 3
    summary = report["runs_detail"][-1]["summary"]
    assert summary["error"] == 0
