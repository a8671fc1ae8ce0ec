"""No module under `pipeline/` but the declaring one names a manifest topic in a string literal:
topics are named through `pipeline.contract.topics.Topic`, so the manifest and the code agree."""

from __future__ import annotations

import ast
import tomllib

from pipeline.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "pipeline"
DECLARING_MODULE = PACKAGE / "contract" / "topics.py"


def _manifest_names() -> set[str]:
    """Every manifest name, a per-tier one as its fixed head (`deliveries.retry.`)."""
    document = tomllib.loads((REPO_ROOT / "topics" / "manifest.toml").read_text())
    return {str(entry["name"]).split("{", 1)[0] for entry in document["topic"]}


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _names_a_topic(text: str, names: set[str]) -> bool:
    """The literal is a topic name, a retry tier's name or head, or a `topic/…` path's head."""
    return any(
        text == name
        or text.startswith(f"{name}/")
        or (name.endswith(".") and text.startswith(name))
        for name in names
    )


def topic_literals(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, text) of each string constant (f-string parts too) naming a topic; docstrings and
    comments are not code."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _names_a_topic(node.value, names)
    )


def test_the_scan_finds_literals_and_skips_docstrings() -> None:
    source = '''
"""Reads `webhooks.raw`."""
def f(settings, tier, key):
    """Writes `deliveries`."""
    # writes polls.raw
    settings.topic("webhooks.raw")
    settings.topic(f"deliveries.retry.{tier}")
    context = f"config.instances/{key}"
    return "deliveries", "a message about events.invalid", "deliveries.attempt"
'''
    found = topic_literals(source, _manifest_names())
    assert found == [
        (6, "webhooks.raw"),
        (7, "deliveries.retry."),
        (8, "config.instances/"),
        (9, "deliveries"),
    ]


def test_no_topic_name_literal_outside_the_declaring_module() -> None:
    names = _manifest_names()
    assert "webhooks.raw" in names  # the manifest was read
    found = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != DECLARING_MODULE
        for line, text in topic_literals(path.read_text(), names)
    ]
    assert not found, "name topics with pipeline.contract.topics.Topic:\n" + "\n".join(found)


def test_the_declaring_module_is_where_the_names_are() -> None:
    assert topic_literals(DECLARING_MODULE.read_text(), _manifest_names())
