"""Benchmarks, run with ``make bench``. They print figures; nothing here is asserted by tests."""
