"""Only `pipeline/runtime/` reaches into faust: every other module uses faust's public API alone.

Read with `ast` from the source, so an override slipped into an agent or a config module fails
here, naming the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pipeline

ROOT = Path(pipeline.__file__).parent
RUNTIME = ROOT / "runtime"
# What faust offers every app: the App and its decorators, the types of streams and events, its
# exceptions, and the web views the worker serves.
PUBLIC_FAUST = {"faust", "faust.types", "faust.exceptions", "faust.web"}


def _modules_outside_runtime() -> list[Path]:
    return [path for path in sorted(ROOT.rglob("*.py")) if RUNTIME not in path.parents]


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _private_reach(tree: ast.AST) -> list[tuple[int, str]]:
    """`thing._name` where `thing` is not `self` or `cls`."""
    reach: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            reach.append((node.lineno, ast.unparse(node)))
    return reach


def test_only_the_runtime_imports_faust_internals_or_mode() -> None:
    offences = []
    for path in _modules_outside_runtime():
        for line, module in _imported_modules(ast.parse(path.read_text())):
            top = module.split(".")[0]
            if (top == "faust" and module not in PUBLIC_FAUST) or top == "mode":
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


def test_the_agents_reach_into_no_object_s_private_state() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} {expression}"
        for path in sorted((ROOT / "agents").rglob("*.py"))
        for line, expression in _private_reach(ast.parse(path.read_text()))
    ]
    assert offences == []


def test_the_checks_see_a_violation() -> None:
    """The two readers above find what they are there to find."""
    source = "from faust.transport.consumer import Consumer\nimport mode\nx = app._producer\n"
    tree = ast.parse(source)
    assert [m for _, m in _imported_modules(tree)] == ["faust.transport.consumer", "mode"]
    assert _private_reach(tree) == [(3, "app._producer")]
