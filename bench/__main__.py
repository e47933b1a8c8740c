"""Run every benchmark: ``make bench`` (``python -m bench [name ...]``)."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime

from bench import demo_data

BENCHMARKS = {"demo_data": demo_data.main}


def main(names: list[str]) -> None:
    print(f"trainer benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})")
    for name in names or list(BENCHMARKS):
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        print(f"\n== {name} ==")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
