"""A large dask.delayed graph (leaves, then pairwise sums to one) on a standalone scheduler with 2 workers."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import dask
from distributed import Client

from common import check, emit, now, params, rounded
from scheduler_memory import rss_of


@dask.delayed
def inc(x):
    return x + 1


@dask.delayed
def add(a, b):
    return a + b


def graph(leaves):
    """Leaves, then pairwise sums (an odd one out goes up a level as is): 2 * leaves - 1 tasks."""
    level = [inc(i) for i in range(leaves)]
    tasks = leaves
    while len(level) > 1:
        nxt = [add(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        tasks += len(level) // 2
        level = nxt
    return level[0], tasks


def main(leaves, budgetS):
    tmp = tempfile.mkdtemp(prefix="dask-bench-")
    file = os.path.join(tmp, "scheduler.json")
    scheduler = subprocess.Popen(
        [sys.executable, shutil.which("dask-scheduler") or "dask-scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", file],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs = [scheduler]
    curve = []
    stop = threading.Event()
    t0 = now()

    def sample():
        while not stop.wait(1.0):
            try:
                curve.append((round(now() - t0), round(rss_of(scheduler.pid)["rss"] / 1e6)))
            except OSError:
                return

    try:
        deadline = time.time() + 60
        while not os.path.exists(file) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        procs.append(
            subprocess.Popen(
                [sys.executable, shutil.which("dask-worker") or "dask-worker", "--scheduler-file", file, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        threading.Thread(target=sample, daemon=True).start()
        with Client(scheduler_file=file) as client:
            client.wait_for_workers(2, timeout=60)
            warm, _ = graph(16)
            check(client.compute(warm).result() == 16 * 17 // 2, "warm-up graph")
            b0 = now()
            root, tasks = graph(leaves)
            build_s = now() - b0
            c0 = now()
            future = client.compute(root)
            try:
                total = future.result(timeout=budgetS)
                completed = True
            except TimeoutError:
                completed = False
            compute_s = now() - c0
            peak = rss_of(scheduler.pid)["peak"]
            if completed:
                expected = leaves * (leaves + 1) // 2
                check(total == expected, f"graph sum {total}, expected {expected}")
                check(tasks == 2 * leaves - 1, f"{tasks} tasks")
                done = tasks
                states = {}
            else:
                # Finished tasks are forgotten once their dependents have their results.
                states = client.run_on_scheduler(lambda dask_scheduler: {s: sum(1 for t in dask_scheduler.tasks.values() if t.state == s) for s in {t.state for t in dask_scheduler.tasks.values()}})
                done = tasks - sum(n for s, n in states.items() if s in ("waiting", "queued", "processing", "no-worker", "released"))
    finally:
        stop.set()
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    import resource

    step = max(1, -(-len(curve) // 40))
    emit(
        {
            "tasks_per_s": rounded(done / compute_s),
            "scheduler_peak_mb": rounded(peak / 1e6),
            "completed": completed,
            **({} if completed else {"tasks_done": done, "states": json.dumps(states)}),
            "compute_s": rounded(compute_s),
            "build_s": rounded(build_s),
            "client_peak_mb": rounded(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3),
            "tasks": tasks,
            "rss_curve": " ".join(f"{t}s:{mb}" for t, mb in curve[::step]),
        }
    )


if __name__ == "__main__":
    main(**params({"leaves": 500_000, "budgetS": 300}))
