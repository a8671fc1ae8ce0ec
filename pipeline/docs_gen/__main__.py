"""`python -m pipeline.docs_gen [--check]`: write the reference pages, or list the stale ones."""

from __future__ import annotations

import argparse
import sys

from pipeline.docs_gen.markdown import REGENERATE
from pipeline.docs_gen.pages import rendered, stale, write
from pipeline.settings import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.docs_gen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    pages = rendered()
    found = stale(pages) if args.check else write(pages)
    for path in found:
        verb = "stale" if args.check else "wrote"
        print(f"{verb} {path.relative_to(REPO_ROOT)}")  # noqa: T201 - a command's output
    if args.check and found:
        print(f"run `{REGENERATE}` to regenerate them", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
