"""CLI commands that need the assistant: ask (every mode), serve (first-run build + ask loop)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_commands(sub, add_filters) -> None:
    s = sub.add_parser("ask", help="answer in a mode: ask | compare | draft | check | quiz")
    s.add_argument("question")
    s.add_argument("--mode", default="ask", choices=["ask", "compare", "draft", "check", "quiz"])
    s.add_argument("--agency", help="draft: your agency's name (replaces 我办/我局/我县…)")
    s.add_argument("--n", type=int, default=5, help="quiz: number of questions")
    s.add_argument("--backend", choices=["extractive", "openai"], help="answerer (env FAZHI_LLM_BACKEND)")
    s.add_argument("--json", action="store_true")
    add_filters(s)
    s.set_defaults(handler=cmd_ask)

    s = sub.add_parser("review", help="review a whole draft report: structure, claims, governing requirements")
    s.add_argument("file", type=Path, help="draft report (.docx .txt .md .pdf .html)")
    s.add_argument("--agency", help="the reporting agency (default: read from the draft's title)")
    s.add_argument("--require", action="append", default=[], metavar="DOC_ID",
                   help="governing document in the knowledge base whose requirements to check (repeatable)")
    s.add_argument("--template", type=Path, help="structure template (TOML; default: the bundled one)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--docx", type=Path, help="write the review sheet as a Word document")
    s.add_argument("--md", type=Path, help="write the review sheet as Markdown")
    s.set_defaults(handler=cmd_review)

    s = sub.add_parser("serve", help="build the knowledge base from the corpus on first run, then start the assistant")
    s.add_argument("--corpus", type=Path, help="folder ingested when the knowledge base is empty (env FAZHI_CORPUS)")
    s.add_argument("--cli", action="store_true", help="interactive question loop in the terminal instead of the web app")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--auth", help="web login user:password[,user2:pw2] (env FAZHI_AUTH); without it only 127.0.0.1 is bound")
    s.set_defaults(handler=cmd_serve)


def format_answer(ans) -> str:
    lines = [ans.text, ""]
    if ans.mode == "check" and ans.verdict:
        lines.insert(0, f"总体结论 / verdict: {ans.verdict}")
    if ans.sources:
        lines.append("来源 / sources:")
        for s in ans.sources:
            loc = " > ".join(s.heading_path)
            page = f" 第{s.page}页" if s.page else ""
            lines.append(f"[{s.number}] 《{s.title}》 {s.issuer} {s.year or ''}{page}"
                         f"{' | ' + loc if loc else ''} (字符 {s.start}-{s.end})")
    for f in ans.flags:
        lines.append(f"⚠ {f.reason} ({f.action}): {f.sentence[:80]}")
    return "\n".join(lines).rstrip()


def cmd_ask(settings, args) -> int:
    from vectorstore.retrieve import FilterError, Filters

    from .llm import LLMError
    from .service import Assistant

    if args.backend:
        settings = settings.with_overrides(llm_backend=args.backend)
    assistant = Assistant(settings)
    streamed = []

    def on_token(tok: str) -> None:
        if not args.json:
            streamed.append(tok)
            sys.stdout.write(tok)
            sys.stdout.flush()

    try:
        filters = Filters.parse(vars(args))
    except FilterError as e:
        raise SystemExit(f"error: --year/--kind: {e}") from None
    try:
        ans = assistant.run(args.mode, args.question, filters, on_token=on_token,
                            agency=args.agency, n=args.n)
    except LLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2))
    else:
        if streamed:
            print("\n---- 核验后的回答 / verified answer ----")
        print(format_answer(ans))
    return 0


def cmd_review(settings, args) -> int:
    from ingest.records import IngestError

    from .review import read_draft, review_text
    from .review_export import to_docx, to_markdown
    from .service import Assistant

    try:
        text = read_draft(args.file)
    except IngestError as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    assistant = Assistant(settings)
    try:
        review = review_text(text, assistant.context(), args.agency, args.require, args.template)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.docx:
        to_docx(review, args.docx)
    if args.md:
        args.md.write_text(to_markdown(review), encoding="utf-8")
    if args.json:
        print(json.dumps(review.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(to_markdown(review))
    return 0


def ensure_corpus(assistant, corpus: Path | None) -> None:
    """First run: build the knowledge base from the bundled corpus (with a progress bar)."""
    if corpus is None or not assistant.kb.is_empty():
        return
    if not corpus.exists():
        print(f"知识库为空，且未找到语料目录 {corpus}", file=sys.stderr)
        return
    print(f"首次运行：正在从 {corpus} 构建知识库（仅需一次）…", file=sys.stderr)
    report = assistant.kb.ingest([corpus], progress=True)
    s = report.to_dict()["summary"]
    print(f"知识库已就绪：新增 {s['added']} 个文件，{s['embedded']} 个段落已向量化，错误 {s['error']} 个。", file=sys.stderr)


def ask_loop(assistant) -> int:
    print("法治政府建设报告助手（输入问题回车；以 /mode 切换模式：ask compare draft check quiz；/quit 退出）")
    mode = "ask"
    while True:
        try:
            line = input(f"[{mode}] > ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return 0
        if line.startswith("/mode"):
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("ask", "compare", "draft", "check", "quiz"):
                mode = parts[1]
            else:
                print("用法：/mode ask|compare|draft|check|quiz")
            continue
        print(format_answer(assistant.run(mode, line)))
        print()


def cmd_serve(settings, args) -> int:
    from .service import Assistant

    settings = settings.with_overrides(host=args.host, port=args.port, corpus=args.corpus,
                                       auth=getattr(args, "auth", None))
    assistant = Assistant(settings)
    ensure_corpus(assistant, settings.corpus)
    if args.cli:
        return ask_loop(assistant)
    try:
        from .web import launch
    except ImportError:
        return ask_loop(assistant)
    return launch(assistant)
