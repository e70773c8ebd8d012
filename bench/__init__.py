"""Benchmarks. Each prints figures next to a baseline measured in the same run; `make bench` runs them all."""
