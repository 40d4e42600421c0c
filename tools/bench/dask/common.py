"""Shared by the Dask benchmarks: the cluster, parameters, timing, output."""
import json
import statistics
import sys
import time

import dask
from distributed import Client, LocalCluster

WORKERS = 2
now = time.perf_counter


def params(defaults):
    """Parameters as JSON in argv[1] (run.mjs passes the same ones as to Skein), else the full sizes."""
    given = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    return {**defaults, **given}


def start():
    # No dashboard: Skein has none, and bokeh is not installed here anyway.
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None)
    return cluster, Client(cluster)


def check(ok, message):
    if not ok:
        raise AssertionError(f"wrong result: {message}")


def median(values):
    return statistics.median(values)


def percentile(values, p):
    """Nearest-rank percentile, p in [0, 100] (same definition as the Skein side)."""
    s = sorted(values)
    rank = -(-p * len(s) // 100)
    return s[min(len(s) - 1, max(0, int(rank) - 1))]


def rounded(x, digits=4):
    return float(f"{x:.{digits}g}")


def emit(figures):
    figures["worker_saturation"] = str(dask.config.get("distributed.scheduler.worker-saturation"))
    print(json.dumps(figures), flush=True)
