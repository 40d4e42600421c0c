"""A binary result moved worker -> worker (64 MiB and 1 MiB) and gathered to the client, vs raw loopback TCP."""
import hashlib
import json
import os
import random
import shutil
import subprocess
import time

from distributed import wait

from common import check, emit, median, now, params, rounded, start

HERE = os.path.dirname(os.path.abspath(__file__))


def make(n, seed):
    return random.Random(seed).randbytes(n)


def digest(a):
    """Runs on the receiving worker: the checksum, and how long computing it took (left out of the rate)."""
    t0 = time.perf_counter()
    check(isinstance(a, bytes), f"expected bytes, got {type(a)}")
    return {"sha": hashlib.sha256(a).hexdigest(), "bytes": len(a), "s": time.perf_counter() - t0}


def loopback(n, repeats):
    """The same raw loopback measurement as the Skein side (tools/bench/lib/loopback.mjs)."""
    node = os.environ.get("BENCH_NODE") or shutil.which("node")
    out = subprocess.run([node, os.path.join(HERE, "..", "lib", "loopback.mjs"), str(n), str(repeats)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main(big, small, big_repeats, small_repeats):
    raw = loopback(big, big_repeats)
    cluster, client = start()
    with cluster, client:
        a, b = sorted(client.scheduler_info()["workers"])
        check(a != b, "two workers")

        def worker_to_worker(n, seed):
            data = client.submit(make, n, seed, workers=[a], pure=False)
            wait(data)
            t0 = now()
            received = client.submit(digest, data, workers=[b], pure=False)
            got = received.result()
            wall = now() - t0
            check(got["bytes"] == n and got["sha"] == hashlib.sha256(make(n, seed)).hexdigest(), f"worker -> worker {n} bytes arrived with sha {got['sha']}")
            del data, received
            return wall - got["s"]

        def to_client(n, seed):
            data = client.submit(make, n, seed, workers=[a], pure=False)
            wait(data)
            t0 = now()
            got = data.result()
            wall = now() - t0
            check(len(got) == n and hashlib.sha256(got).digest() == hashlib.sha256(make(n, seed)).digest(), f"gathered {n} bytes wrong")
            del data
            return wall

        def rate(n, seconds):
            return n / 1e6 / seconds

        worker_to_worker(small, 1)
        to_client(small, 2)
        big_times = [worker_to_worker(big, 10 + i) for i in range(big_repeats)]
        small_times = [worker_to_worker(small, 100 + i) for i in range(small_repeats)]
        gather_times = [to_client(big, 200 + i) for i in range(big_repeats)]
    mb = rate(big, median(big_times))
    emit(
        {
            "mb_per_s": rounded(mb),
            "small_mb_per_s": rounded(rate(small, median(small_times))),
            "gather_mb_per_s": rounded(rate(big, median(gather_times))),
            "fraction_of_loopback": rounded(mb / raw["mb_per_s"]),
            "loopback_mb_per_s": rounded(raw["mb_per_s"]),
            "best_mb_per_s": rounded(rate(big, min(big_times))),
            "bytes": big,
            "small_bytes": small,
        }
    )


if __name__ == "__main__":
    main(**params({"big": 64 * 2**20, "small": 2**20, "big_repeats": 5, "small_repeats": 20}))
