"""docs/reference/settings.md: every `PIPELINE_*` variable, from `pipeline.settings.Settings`."""

from __future__ import annotations

from pathlib import Path

from pydantic.fields import FieldInfo

from pipeline.docs_gen.markdown import code, header, table
from pipeline.settings import REPO_ROOT, Settings

INTRO = (
    "Every process is configured by environment variables only. A bad value stops the process "
    "with one line naming the variable, e.g. `error: PIPELINE_INGRESS_PORT: Input should be a "
    "valid integer … (got 'eighty')`."
)


def render() -> str:
    rows = [
        (code(f"PIPELINE_{name.upper()}"), shown_default(field), field.description or "")
        for name, field in Settings.model_fields.items()
    ]
    body = table(("variable", "default", "meaning"), rows)
    return header("Settings", "`pipeline.settings.Settings`", INTRO) + "\n" + body


def shown_default(field: FieldInfo) -> str:
    """The default as a person sets it: `5,25,125`, `var/`, `false`, `none`."""
    extra = field.json_schema_extra
    shown = extra.get("shown") if isinstance(extra, dict) else None
    if isinstance(shown, str):
        return shown
    default = field.default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return code(str(default).lower())
    if isinstance(default, Path):
        return code(f"{default.relative_to(REPO_ROOT)}/")
    if isinstance(default, float) and default.is_integer():
        return code(int(default))
    return code(default) if default != "" else "empty"
