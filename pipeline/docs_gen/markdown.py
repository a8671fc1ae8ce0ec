"""Markdown building blocks of the generated pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

REGENERATE = "make docs-gen"


def header(title: str, source: str, intro: str = "") -> str:
    """A page's title, a note that it is generated (and from what), and its introduction."""
    note = (
        f"<!-- Generated from {source} by `{REGENERATE}` (python -m pipeline.docs_gen): "
        "edit the source, not this page. -->"
    )
    return "\n\n".join(part for part in (note, f"# {title}", intro) if part) + "\n"


def cell(text: object) -> str:
    """Table-safe: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text: object) -> str:
    return f"`{text}`" if str(text) else ""


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
