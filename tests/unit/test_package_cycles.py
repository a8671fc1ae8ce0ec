"""The `pipeline` packages import each other in one direction: no cycle between subpackages.

Each subpackage (`pipeline.config`, `pipeline.delivery`, …) and each top-level module is one node;
an import anywhere in a node's files (at module level or inside a function) is an edge. A cycle
means two packages cannot be understood, tested or moved apart, so the test names it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pipeline

ROOT = Path(pipeline.__file__).parent


def _node(module: str) -> str | None:
    """`pipeline.config.requests` → `config`; `pipeline.app` → `app`; outside `pipeline`: None."""
    parts = module.split(".")
    if parts[0] != "pipeline" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module named by an import in `tree` (relative imports resolved against `module`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            # `from pipeline import app` imports the module `pipeline.app`.
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def _exists(root: Path, node: str) -> bool:
    return (root / node).is_dir() or (root / f"{node}.py").is_file()


def package_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """node → the other nodes its files import."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        source = _node(module)
        if source is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = graph.setdefault(source, set())
        for name in _imported(tree, module, path.name == "__init__.py"):
            target = _node(name)
            if target is not None and target != source and _exists(root, target):
                targets.add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as `[a, b, …, a]`, or None; depth-first with the path on a stack."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        stack = [iter(sorted(graph.get(start, ())))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif step in on_path:
                return [*path[path.index(step) :], step]
            elif step not in done:
                path.append(step)
                on_path.add(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


def test_no_import_cycle_between_pipeline_packages() -> None:
    cycle = find_cycle(package_graph())
    assert cycle is None, "import cycle between pipeline packages: " + " → ".join(cycle or [])


def test_the_checker_finds_a_cycle_and_follows_relative_imports(tmp_path: Path) -> None:
    root = tmp_path / "pipeline"
    for package in ("alpha", "beta", "gamma"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "alpha" / "one.py").write_text("from pipeline.beta import two\n")
    (root / "beta" / "two.py").write_text("def late():\n    from ..gamma import three\n")
    (root / "gamma" / "three.py").write_text("import pipeline.alpha.one\n")
    graph = package_graph(root)
    assert graph == {"alpha": {"beta"}, "beta": {"gamma"}, "gamma": {"alpha"}}
    assert find_cycle(graph) == ["alpha", "beta", "gamma", "alpha"]
    (root / "gamma" / "three.py").write_text("import json\n")
    assert find_cycle(package_graph(root)) is None
