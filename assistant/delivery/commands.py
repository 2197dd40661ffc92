"""CLI commands that need the assistant: ask (every mode), serve (first-run build + ask loop)."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path


def add_commands(sub, add_filters) -> None:
    s = sub.add_parser("ask", help="answer in a mode: ask | compare | draft | check | quiz")
    s.add_argument("question")
    s.add_argument("--mode", default="ask", choices=["ask", "compare", "draft", "check", "quiz"])
    s.add_argument("--agency", help="draft: your agency's name (replaces 我办/我局/我县…)")
    s.add_argument("--n", type=int, default=5, help="quiz: number of questions")
    s.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="answerer (env FAZHI_LLM_BACKEND)")
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
    s.add_argument("--corpus", type=Path, nargs="+", metavar="DIR",
                   help="folders ingested when the knowledge base is empty (env FAZHI_CORPUS, ':'-separated; "
                        "default: ../shared/corpus if it exists, else ./corpus)")
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

    from ..llm import LLMError
    from ..service import Assistant

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

    from ..review import read_draft, review_text
    from .review_export import to_docx, to_markdown
    from ..service import Assistant

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


def corpus_to_build(assistant, folders: list[Path]) -> list[Path]:
    """The corpus folders to ingest on first run: none when the knowledge base already holds documents."""
    if not folders or not assistant.kb.is_empty():
        return []
    found = [f for f in folders if f.exists()]
    if not found:
        print(f"知识库为空，且未找到语料目录 {'、'.join(map(str, folders))} / empty knowledge base and no corpus folder",
              file=sys.stderr)
    return found


def build_corpus(assistant, folders: list[Path], progress=None) -> None:
    """First run: build the knowledge base from the corpus folders (terminal bar with time left)."""
    from .first_start import BuildProgress, build

    print(f"首次运行：正在从 {'、'.join(map(str, folders))} 构建知识库（仅需一次）… / first run: building the "
          f"knowledge base", file=sys.stderr)
    t0 = time.monotonic()
    report = build(assistant.kb, folders, progress or BuildProgress())
    s = report.to_dict()["summary"]
    print(f"知识库已就绪（{time.monotonic() - t0:.0f} 秒）：新增 {s['added']} 个文件，{s['embedded']} 个段落已向量化，"
          f"错误 {s['error']} 个。", file=sys.stderr)


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
    from ..service import Assistant

    corpus = os.pathsep.join(str(c) for c in args.corpus) if args.corpus else None
    settings = settings.with_overrides(host=args.host, port=args.port, corpus=corpus,
                                       auth=getattr(args, "auth", None))
    assistant = Assistant(settings)
    folders = corpus_to_build(assistant, settings.corpus_paths)
    if args.cli or importlib.util.find_spec("gradio") is None:  # no web extra installed: the terminal loop
        if folders:
            build_corpus(assistant, folders)
        return ask_loop(assistant)
    if folders:
        return launch_after_build(assistant, folders)
    from .web import launch

    return launch(assistant)


def launch_after_build(assistant, folders: list[Path]) -> int:
    """Build the knowledge base while a notice page answers on the app's address, then hand the port over.

    The notice is up before Gradio is even imported, so the address answers within seconds of the start."""
    from .bind import resolve_bind
    from .first_start import BuildProgress, NoticeServer
    from .serving import parse_auth

    settings = assistant.settings
    try:
        users = parse_auth(settings.auth)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host, _ = resolve_bind(settings.host, users)
    progress = BuildProgress()
    try:
        notice = NoticeServer(host, int(settings.port), progress)
    except OSError as exc:
        print(f"error: 无法监听 {host}:{settings.port}：{exc}", file=sys.stderr)
        return 1
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"构建期间可打开 http://{shown}:{settings.port}/ 查看进度 / progress page at http://{shown}:{settings.port}/",
          file=sys.stderr)
    try:
        build_corpus(assistant, folders, progress)
    except Exception as exc:  # noqa: BLE001 - the assistant still starts; the KB page can ingest again
        print(f"error: 知识库构建失败 / build failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    from .web import launch

    return launch(assistant, before_serve=notice.close)
