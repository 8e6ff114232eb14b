"""The package's shape: no import circle (imports inside functions count), the live
detectors free of the NAB-only methods and of everything outside detection, and no module
named like the standard library."""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crisis"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every crisis module `module` imports, anywhere in its body, and the packages whose
    __init__ that import runs."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for target in targets:
            if not target.startswith("crisis"):
                continue
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                yield ".".join(parts[:i])


GRAPH = {m: {t for t in _imported(m, p) if t != m and not m.startswith(t + ".")} for m, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(GRAPH)))
    try:
        for v in GRAPH:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def _reaches(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in GRAPH[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_it_finds_the_import_from_a_function_body() -> None:
    # The checker itself: crisis.runtime imports the detector cache only inside a method.
    assert "crisis.detection.cache" in GRAPH["crisis.runtime"]


def test_the_package_has_no_import_circle() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("crisis.detection")
                                          and not m.startswith("crisis.detection.nab")))
def test_live_detectors_import_only_detection_and_never_the_nab_methods(module: str) -> None:
    outside = {t for t in GRAPH[module] if t != "crisis" and not t.startswith("crisis.detection")}
    assert outside == set()
    assert not any(t.startswith("crisis.detection.nab") for t in _reaches(module))


def test_no_module_is_named_like_the_standard_library() -> None:
    clashes = {m for m in MODULES if m.rsplit(".", 1)[-1] in sys.stdlib_module_names}
    assert clashes == set()


# Facades whose __init__ re-exports its own modules, which import nothing above them.
FACADES = {"crisis.detection", "crisis.detection.text", "crisis.models", "crisis.playbooks"}


def test_package_inits_import_no_crisis_module_except_the_facades() -> None:
    # A package's __init__ runs for every import of any of its modules: keep it free of work.
    heavy = [module for module, path in MODULES.items()
             if path.name == "__init__.py" and module not in FACADES
             and any(module_of(node).startswith("crisis") for node in ast.parse(path.read_text()).body
                     if isinstance(node, ast.ImportFrom | ast.Import))]
    assert heavy == []


def module_of(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.Import):
        return node.names[0].name
    return "crisis" if node.level else node.module or ""
