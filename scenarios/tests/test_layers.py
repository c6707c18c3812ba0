"""The scenario harness's modules import in one direction: no import circle, not even
one hidden behind TYPE_CHECKING or inside a function."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pynenc_scenarios

PACKAGE = Path(pynenc_scenarios.__file__).parent


def module_imports() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports, anywhere in it."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        imported &= {m for m in imported if m.startswith("pynenc_scenarios")}
        imported.discard(name)
    return graph


def test_the_harness_modules_import_in_one_direction() -> None:
    graph = module_imports()
    assert "pynenc_scenarios.appenv" in graph
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import circle: {' -> '.join(cycle.args[1])}") from None
    assert order.index("pynenc_scenarios.checks") < order.index("pynenc_scenarios.appenv")


def test_the_harness_knows_no_backend() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert "pynenc_sqlite" not in path.read_text(), f"{path} names pynenc-sqlite"
