"""python -m bench [NAME ...]: the benchmarks named (NAMES below), or all of them.

Each benchmark prints Markdown tables and saves them to bench/results/.
Set BENCH_PG_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)
to run fan-out, throughput, app_cpu and feed on PostgreSQL too, beside SQLite.
"""

import sys

from bench import common

NAMES = ["streaming", "fanout", "throughput", "app_cpu", "waiting", "writes", "research", "feed"]


def main(argv: list[str]) -> int:
    chosen = argv or NAMES
    unknown = [name for name in chosen if name not in NAMES]
    if unknown:
        print(f"unknown benchmark {unknown}; choose from {NAMES}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        module = __import__(f"bench.{name}", fromlist=["main"])
        path = common.save(name, module.main())
        print(f"saved {path.relative_to(common.RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
