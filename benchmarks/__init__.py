"""Reproducible performance figures for microvisor_pulumi: run ``python -m benchmarks`` from the repo root.

Kept free of imports: the provider host imports ``benchmarks.null_provider`` during the cold-start
benchmark, and anything imported here would be charged to that baseline.
"""
