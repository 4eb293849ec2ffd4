#!/usr/bin/env python3
"""Plots ops/s per suite for Redis and RESPLite from the CSV written by resplite-bench.

Usage: .venv/bin/python Benchmarks/plot.py benchmark-results.csv docs/benchmarks.png
(installs matplotlib into the project's .venv if it is missing)."""
import csv, subprocess, sys

try:
    import matplotlib
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "matplotlib"])
    import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

source, target = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(source)))
suites = list(dict.fromkeys(r["suite"] for r in rows))
servers = list(dict.fromkeys(r["server"] for r in rows))
width = 0.8 / len(servers)
fig, ax = plt.subplots(figsize=(max(10, len(suites) * 0.9), 5))
for i, server in enumerate(servers):
    values = [next((float(r["ops_per_sec"]) for r in rows if r["suite"] == s and r["server"] == server), 0) for s in suites]
    ax.bar([x + i * width for x in range(len(suites))], values, width, label=server)
ax.set_xticks([x + width * (len(servers) - 1) / 2 for x in range(len(suites))])
ax.set_xticklabels(suites, rotation=40, ha="right")
ax.set_ylabel("operations per second")
ax.set_title("RESPLite vs Redis (resplite-bench)")
ax.legend()
fig.tight_layout()
fig.savefig(target, dpi=110)
print("wrote", target)
