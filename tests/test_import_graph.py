"""The architecture, checked: the import graph of `jobs`, `service` and `bench` has no cycle
(not even one hidden in a function), `jobs` never imports `service`, and `jobs.layout` imports
nothing above it. Pure: reads the sources, imports nothing."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("jobs", "service", "bench")

LAZY = {
    # Imported at first access on purpose, not to hide a cycle: `arq --check` imports this
    # package, and WorkerSettings reads the settings (which must not happen at import).
    ("jobs.worker", "jobs.worker.arq_check"),
    # Optional: only in bench/.venv; the backend is chosen before pyplot is imported.
    ("bench.report", "matplotlib"),
    # Builds its broker from BENCH_REDIS_URL when imported: after the harness sets it.
    ("bench.systems.taskiq_sys", "bench.workers.taskiq_worker"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if ".venv" not in path.parts
    }


def _imports(path: Path, name: str, known: set[str]) -> Iterator[tuple[str, bool]]:
    """(imported module, outside any function?) for every import of `path` that is ours
    (`if TYPE_CHECKING:` imports count: a cycle through types is still a cycle to read)."""
    tree = ast.parse(path.read_text())
    in_functions = {
        id(inner)
        for outer in ast.walk(tree)
        if isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(outer)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # `from pkg import mod` imports the module `pkg.mod` when there is one.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for target in targets:
            if target in known or (name, target) in LAZY:
                yield target, id(node) not in in_functions


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    modules = _modules()
    known = set(modules)
    edges: dict[str, set[str]] = {name: set() for name in modules}
    inside_functions: list[tuple[str, str]] = []
    for name, path in modules.items():
        for target, at_top in _imports(path, name, known):
            if target == name or name.startswith(target + "."):
                continue  # a package's own submodule importing it: Python's parent import
            if not at_top and (name, target) not in LAZY:
                inside_functions.append((name, target))
            if target in known:
                edges[name].add(target)
    return edges, inside_functions


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    edges, _ = _graph()
    assert _cycle(edges) is None


def test_no_import_is_hidden_inside_a_function() -> None:
    _, inside = _graph()
    assert inside == []


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [("jobs", "service"), ("jobs", "bench"), ("service", "bench"), ("jobs.layout", "jobs.")],
)
def test_lower_layers_do_not_import_upper_ones(importer: str, forbidden: str) -> None:
    edges, _ = _graph()
    bad = [
        (source, target)
        for source, targets in edges.items()
        if source == importer or source.startswith(importer + ".")
        for target in targets
        if (target == forbidden or target.startswith(forbidden.rstrip(".") + "."))
        and not target.startswith("jobs.layout")
        and target != "jobs.settings"  # the configuration: below every layer, imports none
    ]
    assert bad == []


def test_installed_code_imports_its_settings_from_the_package() -> None:
    """The top-level `settings` is the checkout's alone (the wheel ships none): code that is
    installed reads `jobs.settings`, or a host application's own `settings.py` would answer."""
    bad = [
        name
        for name, path in _modules().items()
        if not name.startswith("bench")
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.ImportFrom) and node.module == "settings" and not node.level)
        or (isinstance(node, ast.Import) and any(a.name == "settings" for a in node.names))
    ]
    assert bad == []
