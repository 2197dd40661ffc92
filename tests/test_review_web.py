"""The review through the HTTP API and the web page's renderer."""
from __future__ import annotations

import pytest

from conftest import CORPUS


@pytest.fixture(scope="module")
def client(corpus_kb):
    from fastapi.testclient import TestClient

    from assistant.service import Assistant
    from assistant.settings import Settings
    from assistant.delivery.web import create_app

    kb, _ = corpus_kb
    app = create_app(Assistant(Settings(kb=kb.store.folder), kb=kb), "reviewer:pw")
    with TestClient(app) as c:
        yield c


def _broken() -> bytes:
    text = (CORPUS / "reports/2021-baodi-qu-chengguanwei-report.txt").read_text(encoding="utf-8")
    start, end = text.index("二、法治政府建设中存在的不足和原因"), text.index("三、第一责任人履职情况")
    return (text[:start] + text[end:]).replace("聘请职业律师2名", "聘请职业律师5名").encode("utf-8")


def test_review_api_requires_login(client):
    r = client.post("/api/review", data={"text": "一、主要举措和成效"})
    assert r.status_code == 401


def test_review_api_on_an_uploaded_draft(client):
    auth = ("reviewer", "pw")
    r = client.post("/api/review", files={"file": ("草稿.txt", _broken(), "text/plain")},
                    data={"agency": "天津市宝坻区城市管理委员会",
                          "governing": ["outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt"]}, auth=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["parts_missing"] == 1
    assert any(c["verdict"] == "contradicted" and "5名" in c["sentence"] for c in body["claims"])
    assert body["requirements"]
    docx = client.post("/api/review?format=docx", data={"text": _broken().decode("utf-8")}, auth=auth)
    assert docx.status_code == 200 and docx.content[:2] == b"PK"


def test_review_api_errors_are_clear(client):
    auth = ("reviewer", "pw")
    r = client.post("/api/review", data={"text": "   "}, auth=auth)
    assert r.status_code == 422 and "粘贴报告全文" in r.text
    r = client.post("/api/review", files={"file": ("a.exe", b"MZ...", "application/octet-stream")}, auth=auth)
    assert r.status_code == 415
    r = client.post("/api/review", data={"text": "一、主要举措", "governing": ["nope.txt"]}, auth=auth)
    assert r.status_code == 404


def test_review_html_escapes_and_colours(corpus_kb):
    from assistant.review import review_text
    from assistant.service import Assistant
    from assistant.settings import Settings
    from assistant.delivery.web_review import review_html

    kb, _ = corpus_kb
    ctx = Assistant(Settings(kb=kb.store.folder), kb=kb).context()
    r = review_text("<script>x</script>\n一、主要举措和成效\n全年召开会议3次。", ctx, "某单位")
    html = review_html(r)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'fz-badge fz-bad' in html  # missing parts shown in red
