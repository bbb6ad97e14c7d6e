"""VoxTray benchmarks: each one prints its figures as JSON lines on stdout.

Run them all with ``make bench`` (``python -m bench``); ``--quick`` for a short smoke run,
``--only NAME`` for one of them. Figures, targets and methodology: docs/PERFORMANCE.md.
"""
