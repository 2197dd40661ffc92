"""The web page's examples come from the knowledge base's own documents, and the ones it offers work."""
from __future__ import annotations

from pathlib import Path

from conftest import write_tiny_corpus

from assistant.delivery.examples import GENERIC_PLACEHOLDER, kb_examples
from vectorstore.kb import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]


def test_examples_are_taken_from_the_knowledge_base_and_answered(assistant):
    placeholder, examples = kb_examples(assistant.kb)
    assert examples["ask"] and examples["compare"] and examples["draft"] and examples["check"] and examples["quiz"]
    issuers = {d.get("issuer") for d in assistant.kb.documents()}
    assert all(any(i and e.startswith(i) for i in issuers) for e in examples["ask"])
    assert placeholder["ask"].startswith("输入问题，例如：" + examples["ask"][0])
    code = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "assistant").rglob("*.py"))
    for e in examples["ask"] + examples["compare"] + examples["check"]:  # derived, not written into the product
        assert e not in code, e
    for q in examples["ask"] + examples["compare"]:
        mode = "compare" if q in examples["compare"] else "ask"
        ans = assistant.run(mode, q)
        assert not ans.refused and ans.sources, (q, ans.text)
    check = assistant.run("check", examples["check"][0])
    assert check.verdict == "supported", check.text


def test_an_empty_knowledge_base_offers_no_examples(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb")
    placeholder, examples = kb_examples(kb)
    assert placeholder == GENERIC_PLACEHOLDER and not any(examples.values())
    kb.close()


def test_a_knowledge_base_of_other_documents_gets_its_own_examples(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb")
    kb.ingest([write_tiny_corpus(tmp_path / "src")], progress=False)
    _, examples = kb_examples(kb)
    text = "".join(d.get("title") or "" for d in kb.documents()) + "".join(
        c.text + "".join(c.heading_path) for d in kb.documents() for c in kb.store.doc_chunks(d["id"]))
    assert any(examples.values())
    for found in examples.values():
        for e in found:
            body = e.removeprefix("核对：").removeprefix("其他单位是如何").removesuffix("的？")
            assert body.split("在")[-1].removesuffix("方面做了哪些工作？") in text, e
    kb.close()
