"""A knowledge-base folder that cannot be written (read-only media, a file in the way) gives a clear
Chinese/English error and exit code 2 on ingest, list and search, never a traceback; nothing is changed."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_tiny_corpus

ROOT = Path(__file__).resolve().parents[1]


def _fazhi(kb: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.delivery.cli", "--kb", str(kb), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _assert_clear_error(out: subprocess.CompletedProcess, why: str) -> None:
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "知识库文件夹无法使用" in out.stderr and why in out.stderr


def test_a_file_in_the_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for args in (("docs", "list"), ("search", "行政复议"), ("ingest", str(tmp_path))):
        _assert_clear_error(_fazhi(blocker / "kb", *args), "不是文件夹")


@pytest.fixture
def readonly_mount(tmp_path):
    """A real read-only file system: a tmpfs mounted, filled, then remounted read-only (needs root)."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)],
                                                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): the read-only case is covered by the file-in-path test")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_read_only_knowledge_base_is_a_clear_error_and_stays_intact(tmp_path, readonly_mount):
    kb = readonly_mount / "kb"
    src = write_tiny_corpus(tmp_path / "src")
    assert _fazhi(kb, "ingest", str(src), "--quiet").returncode == 0
    before = sorted(p.name for p in kb.iterdir())
    subprocess.run(["mount", "-o", "remount,ro", str(readonly_mount)], check=True)
    for args in (("ingest", str(src)), ("docs", "list"), ("search", "行政复议")):
        _assert_clear_error(_fazhi(kb, *args), "只读")
    assert sorted(p.name for p in kb.iterdir()) == before
    subprocess.run(["mount", "-o", "remount,rw", str(readonly_mount)], check=True)
    listed = _fazhi(kb, "docs", "list")
    assert listed.returncode == 0 and "documents" in listed.stdout
