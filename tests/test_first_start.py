"""First start of `fazhi serve`: the corpus search order, the build's notice page, and the hand-over."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, write_tiny_corpus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def test_corpus_search_order(tmp_path, monkeypatch):
    from assistant.settings import Settings

    monkeypatch.delenv("FAZHI_CORPUS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().corpus_paths == []  # neither ../shared/corpus nor ./corpus
    (tmp_path / "corpus").mkdir()
    assert Settings().corpus_paths == [Path("corpus")]
    (tmp_path.parent / "shared" / "corpus").mkdir(parents=True, exist_ok=True)
    try:
        assert Settings().corpus_paths == [Path("../shared/corpus")]
    finally:
        (tmp_path.parent / "shared" / "corpus").rmdir()
        (tmp_path.parent / "shared").rmdir()
    monkeypatch.setenv("FAZHI_CORPUS", os.pathsep.join(["/a/laws", "/b/reports"]))
    assert Settings().corpus_paths == [Path("/a/laws"), Path("/b/reports")]


def test_the_project_bundles_only_the_provided_samples():
    """corpus/ holds the five provided samples and their manifest, nothing taken from other collections."""
    import csv

    with (ROOT / "corpus" / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 5 and all(r["source"].startswith("provided sample") for r in rows)
    files = {p.relative_to(ROOT / "corpus").as_posix() for p in (ROOT / "corpus").rglob("*") if p.is_file()}
    assert files == {r["file"] for r in rows} | {"MANIFEST.tsv"}


def test_notice_page_shows_progress_then_hands_the_port_over():
    from assistant.delivery.first_start import BuildProgress, NoticeServer

    progress = BuildProgress(folders=["corpus"])
    port = _free_port()
    notice = NoticeServer("127.0.0.1", port, progress)
    try:
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "知识库正在构建" in page and "正在读取和切分文档" in page
        progress.on_file(None)
        progress.on_chunks(0, 400)
        time.sleep(0.05)
        progress.on_chunks(100, 400)
        status, body = _get(f"http://127.0.0.1:{port}/api/health")
        data = json.loads(body)
        assert status == 503 and data["status"] == "building"
        assert data["progress"]["chunks_done"] == 100 and data["progress"]["percent"] == 25
        assert data["progress"]["seconds_left"] is not None and "预计还需" in data["message"]
        status, body = _get(f"http://127.0.0.1:{port}/api/ask")  # every API route says it is building
        assert status == 503 and "知识库正在构建" in json.loads(body)["detail"]
    finally:
        notice.close()
    with socket.socket() as s:  # the port is free again for the web app (which binds with SO_REUSEADDR, as uvicorn does)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


def test_build_error_is_shown_not_raised_silently():
    from assistant.delivery.first_start import BuildProgress, build, status_text

    class Broken:
        def ingest(self, *a, **k):
            raise OSError("disk full")

    progress = BuildProgress()
    with pytest.raises(OSError):
        build(Broken(), [Path("corpus")], progress)
    snap = progress.snapshot()
    assert snap["finished"] and "disk full" in status_text(snap)


@pytest.mark.slow
def test_fazhi_serve_first_start_builds_then_answers(tmp_path):
    """A real `fazhi serve` on an empty knowledge base: the address answers during the build (notice or app),
    the terminal shows the build's progress, and the app then answers with the corpus ingested."""
    corpus = write_tiny_corpus(tmp_path / "src")
    port = _free_port()
    env = dict(os.environ, FAZHI_KB=str(tmp_path / "kb"), FAZHI_CORPUS=str(corpus), FAZHI_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.delivery.cli", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    seen_notice = False
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                status, body = _get(f"http://127.0.0.1:{port}/api/health", timeout=3)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.3)
                continue
            data = json.loads(body)
            if data.get("status") == "building":
                seen_notice = True
            elif status == 200 and data.get("status") == "ok":
                break
            time.sleep(0.3)
        else:
            pytest.fail("the app never answered: " + (tmp_path / "serve.log").read_text())
        assert data["documents"] == 3
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
        out = (tmp_path / "serve.log").read_text()
        assert "首次运行" in out and "知识库已就绪" in out
        print("notice page seen during the build:", seen_notice)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
