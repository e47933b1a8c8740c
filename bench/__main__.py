"""Run every benchmark: ``make bench`` (``python -m bench [name ...]``).

Exits with status 1 when a benchmark's requirement failed (its ``FAIL:`` lines say which).
"""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime

from bench import (
    booking_rush,
    catalogue_search,
    confidence_analysis,
    demo_data,
    newsletter_send,
    reporting,
    soak,
    waiting_list_rush,
)
from bench.common import failures

BENCHMARKS = {
    "booking_rush": booking_rush.main,
    "waiting_list_rush": waiting_list_rush.main,
    "catalogue_search": catalogue_search.main,
    "demo_data": demo_data.main,
    "confidence_analysis": confidence_analysis.main,
    "reporting": reporting.main,
    "newsletter_send": newsletter_send.main,
    "soak": soak.main,
}


def main(names: list[str]) -> None:
    print(f"trainer benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})")
    for name in names or list(BENCHMARKS):
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        print(f"\n== {name} ==")
        BENCHMARKS[name]()
    if failures():
        print("\nFAILED:\n" + "\n".join(f"  {failure}" for failure in failures()))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
