"""The benchmark: the real bot against the loopback fakes, run with `python -m tests.bench`."""
