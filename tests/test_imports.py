"""planner/ has no import cycle (issue 9): no module imports, directly or through others, a module that imports it,
counting function-level (deferred) imports too. `from planner.x import name` depends on planner.x.name when that
is a submodule, else on planner.x; a package re-exporting its submodules' names is not a cycle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "planner"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name if is_package else name.rsplit(".", 1)[0]
                    base = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_sees_the_cli_package():
    graph = _graph()
    assert "planner.cli.common" in graph["planner.cli.plan"]
    assert {"planner.cli.plan", "planner.cli.bundle", "planner.cli.gates"} <= graph["planner.cli.entry"]


def test_planner_has_no_import_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_cli_starts_without_the_solver_stack():
    """`implan --help` and usage errors must not pay for PuLP, highspy, numpy, the catalogs or the renderers: the
    command modules import those inside the commands (issue 12). A top-level import of any of them fails here."""
    import subprocess
    import sys

    heavy = ["pulp", "highspy", "numpy", "planner.optimize", "planner.catalog.loader", "planner.report",
             "planner.plan_json", "planner.html_report"]
    code = ("import sys, planner.cli; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == ""
