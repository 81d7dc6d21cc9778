"""Benchmarks: each module prints its figures as ratios measured in one run (`make bench`)."""
