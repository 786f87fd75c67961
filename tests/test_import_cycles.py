"""No import cycle among sonar_bdc's modules, imports inside functions included.

Each module's source is read (not imported) and every ``import``/``from ... import`` in
it, at any depth, becomes an edge to the sonar_bdc module it names: ``from . import x``
names the submodule ``x`` when there is one, else the package itself. The implicit
import of a parent package (``__init__``) is not an edge, as tools like grimp count it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sonar_bdc

ROOT = "sonar_bdc"

# Cycles tolerated, each as the set of modules in it; any other cycle fails, and so does
# one of these that grows. None today.
ALLOWED: frozenset[frozenset[str]] = frozenset()


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name, with its source file: from the files,
    not by importing (a cycle that breaks a package's import would hide its modules)."""
    top = Path(sonar_bdc.__file__).parent
    found = {}
    for path in sorted(top.rglob("*.py")):
        parts = path.relative_to(top.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The sonar_bdc modules that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node.module, node.level, package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else base)
    return {target for target in targets if target in known and target != name}


def absolute(module: str | None, level: int, package: str) -> str:
    """The dotted name a (possibly relative) ``from`` import names."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan): the sets
    of modules that import one another, each sorted, for a stable message."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(components)


def cycle_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One path from the component's first module back to itself (breadth first)."""
    members = set(component)
    start = component[0]
    paths = {succ: [start, succ] for succ in sorted(edges[start]) if succ in members}
    frontier = list(paths)
    while start not in paths:
        nxt = []
        for node in frontier:
            for succ in sorted(edges[node] & members):
                if succ not in paths:
                    paths[succ] = [*paths[node], succ]
                    nxt.append(succ)
        frontier = nxt
    return paths[start]


def test_the_walk_finds_every_module_and_relative_imports() -> None:
    edges = graph()
    assert "sonar_bdc.cli" in edges and "sonar_bdc.store.store" in edges
    assert "sonar_bdc.sonar.v2.client" in edges and "sonar_bdc.importer" in edges
    assert "sonar_bdc.errors" in edges["sonar_bdc.cli"]  # ``from .errors import ...``


def test_cycles_are_found_and_printed() -> None:
    """The detector itself: a cycle, imports in functions, and none where none is."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycle_through(["a", "b", "c"], edges) == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_and_relative_ones_count(tmp_path: Path) -> None:
    known = {"sonar_bdc.p": tmp_path / "__init__.py", "sonar_bdc.p.a": tmp_path / "a.py"}
    known |= {"sonar_bdc.p.b": tmp_path / "b.py", "sonar_bdc.q": tmp_path / "q.py"}
    source = "def f():\n    from .b import x\n    from .. import q\n    from . import b\n"
    known["sonar_bdc.p.a"].write_text(source, encoding="utf-8")
    assert imported("sonar_bdc.p.a", known["sonar_bdc.p.a"], known) == {
        "sonar_bdc.p.b",
        "sonar_bdc.q",
    }


def test_no_import_cycle() -> None:
    edges = graph()
    unexpected = [found for found in cycles(edges) if frozenset(found) not in ALLOWED]
    shown = "\n".join(
        f"{' -> '.join(cycle_through(found, edges))} (modules in the cycle: {', '.join(found)})"
        for found in unexpected
    )
    assert not unexpected, f"import cycles among sonar_bdc modules:\n{shown}"
