"""The package structure the guide asks for, checked from the source's imports (no import is run).

- data flows one way: ``ingest`` -> ``vectorstore`` -> ``assistant``; the answering core (``assistant``
  outside ``assistant.delivery``) never imports delivery (CLI, web, API, export);
- no module-level import circle anywhere in the product packages (imports inside functions are lazy
  on purpose and are counted too, so a cycle cannot hide in one);
- no module past the agreed size.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ingest", "vectorstore", "assistant", "eval", "prompts")
LAYER = {"ingest": 0, "vectorstore": 1, "assistant": 2}
MAX_LINES = 480


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            out[_module_name(path)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # the longest known module that the target names
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _drop_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # `from .x import y` also names the package itself; a package's __init__ is not a real edge here
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}


def test_core_never_imports_delivery():
    bad = [
        (m, t)
        for m, ts in _graph().items()
        if m.startswith("assistant") and not m.startswith("assistant.delivery")
        for t in ts
        if t.startswith("assistant.delivery")
    ]
    assert bad == []


def test_data_flows_one_way_between_packages():
    bad = []
    for m, ts in _graph().items():
        top = m.split(".")[0]
        for t in ts:
            other = t.split(".")[0]
            if top in LAYER and other in LAYER and LAYER[other] > LAYER[top]:
                bad.append((m, t))
    assert bad == []


def test_no_import_circle():
    graph = _drop_parents(_graph())
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_checker_sees_a_circle_and_a_reverse_import(tmp_path):
    # the checks above must be able to fail: feed them a tiny tree with both defects
    a = tmp_path / "assistant" / "a.py"
    a.parent.mkdir()
    a.write_text("from .delivery import web\n")
    (tmp_path / "assistant" / "delivery").mkdir()
    (tmp_path / "assistant" / "delivery" / "web.py").write_text("from .. import a\n")
    known = {"assistant.a", "assistant.delivery", "assistant.delivery.web", "assistant"}
    assert "assistant.delivery.web" in _imports("assistant.a", a, known)
    web = tmp_path / "assistant" / "delivery" / "web.py"
    assert "assistant.a" in _imports("assistant.delivery.web", web, known)


def test_no_module_past_the_size_limit():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
