"""`python -m bench [--rates 100 250 500 750 1000] …`: one session → bench/results/.

Writes `<stamp>.json` (every figure), `<stamp>.md` (the tables), `<stamp>-latency.png` and
`<stamp>-throughput.png`, and prints the tables. `python -m bench soak …` is the fault-injection
run instead (`bench/soak/main.py`).
"""

from __future__ import annotations

import asyncio
import sys

from bench.ladder.config import from_args
from bench.ladder.plots import latency_plot, throughput_plot
from bench.ladder.report import ratios, sustained_rate, write_json
from bench.ladder.session import log, run_session
from bench.ladder.tables import markdown


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["soak"]:
        from bench.soak.main import main as soak  # noqa: PLC0415 - only the soak needs its modules

        return soak(arguments[1:])
    if arguments[:1] == ["drain"]:
        from bench.drains.worker_drain import main as drain  # noqa: PLC0415 - as the soak

        return drain(arguments[1:])
    if arguments[:1] == ["peer"]:
        from bench.peers.main import main as peer  # noqa: PLC0415 - as the soak

        return peer(arguments[1:])
    if arguments[:1] == ["codecs"]:
        from bench.micro.codecs import main as codecs  # noqa: PLC0415 - as the soak

        return codecs(arguments[1:])
    if arguments[:1] == ["state"]:
        from bench.state.main import main as state  # noqa: PLC0415 - as the soak

        return state(arguments[1:])
    config = from_args(argv)
    results = asyncio.run(run_session(config))
    results["ratios"] = ratios(results)
    results["sustained_rate"] = sustained_rate(results)
    base = config.results_dir / results["stamp"]
    write_json(results, base.with_suffix(".json"))
    tables = markdown(results)
    base.with_suffix(".md").write_text(tables)
    latency_plot(results, base.with_name(base.name + "-latency.png"))
    throughput_plot(results, base.with_name(base.name + "-throughput.png"))
    print(tables)  # noqa: T201 - the report is this command's output
    log(f"results in {base}.json (+ .md, -latency.png, -throughput.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
