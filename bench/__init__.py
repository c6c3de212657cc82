"""Benchmarks of the OMS mesh against baselines measured in the same run (docs/architecture.md, "Measuring").

``python -m bench`` runs every benchmark and rewrites the results sections of
``docs/benchmarks.md``; ``python -m bench placeorder`` (or ``saga``) runs one. Raw results are
kept as JSON in ``bench/results/`` (not committed).
"""
