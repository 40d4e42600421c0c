"""Pending tasks and no workers: memory per task in a standalone scheduler process (dask-scheduler)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from distributed import Client

from common import check, emit, now, params, rounded


def inc(x):
    return x + 1


def rss_of(pid):
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    kib = lambda field: int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1)) * 1024
    return {"rss": kib("VmRSS"), "peak": kib("VmHWM")}


def settle(client, pid, n):
    """Wait until the scheduler knows n tasks, then until its RSS stops growing (5 samples 200 ms apart)."""
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) < n:
        time.sleep(0.1)
    last, stable = rss_of(pid)["rss"], 0
    while stable < 5:
        time.sleep(0.2)
        rss = rss_of(pid)["rss"]
        stable = 0 if rss > last else stable + 1
        last = max(last, rss)
    return rss_of(pid)


def main(tasks, warmup):
    tmp = tempfile.mkdtemp(prefix="dask-bench-")
    file = os.path.join(tmp, "scheduler.json")
    exe = shutil.which("dask-scheduler") or "dask-scheduler"
    # The same scheduler the CLI starts, without the dashboard (as on the Skein side).
    scheduler = subprocess.Popen([sys.executable, exe, "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not os.path.exists(file) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with Client(scheduler_file=file) as client:
            warm = client.map(inc, [-1 - i for i in range(warmup)], pure=False)
            before = settle(client, scheduler.pid, warmup)
            t0 = now()
            futures = client.map(inc, range(tasks), pure=False)
            after = settle(client, scheduler.pid, warmup + tasks)
            wall = now() - t0
            states = client.run_on_scheduler(lambda dask_scheduler: {s: sum(1 for t in dask_scheduler.tasks.values() if t.state == s) for s in {t.state for t in dask_scheduler.tasks.values()}})
            check(len(futures) == tasks and len(warm) == warmup, "futures")
            check(sum(states.values()) == warmup + tasks, f"the scheduler holds {states}")
            check(not any(f.done() for f in futures), "a task finished with no workers")
            del futures, warm
    finally:
        scheduler.terminate()
        scheduler.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    emit(
        {
            "bytes_per_task": rounded((after["rss"] - before["rss"]) / tasks),
            "rss_before_mb": rounded(before["rss"] / 1e6),
            "rss_after_mb": rounded(after["rss"] / 1e6),
            "peak_rss_mb": rounded(after["peak"] / 1e6),
            "submit_s": rounded(wall),
            "states": json.dumps(states),
            "tasks": tasks,
        }
    )


if __name__ == "__main__":
    main(**params({"tasks": 100_000, "warmup": 1000}))
