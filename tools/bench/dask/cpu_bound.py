"""CPU-bound tasks on 2 single-threaded workers: efficiency = ideal / wall."""
import time

from common import WORKERS, check, emit, now, params, rounded, start


def spin(n, i):
    t0 = time.perf_counter()
    x = 1
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return i, x, time.perf_counter() - t0


def calibrate(seconds):
    """Iterations for `seconds` of spin in this (quiet) process, the single-task time, and the checksum."""
    def fastest(n, runs):  # the fastest of a few: a preempted run must not shrink n
        return min(spin(n, 0)[2] for _ in range(runs))

    n = 10_000
    while True:
        dt = fastest(n, 3)
        if dt > 0.02:
            n = round(n * seconds / dt)
            break
        n *= 4
    return n, fastest(n, 3), spin(n, 0)[1]


def main(tasks, task_s):
    n, task_time, checksum = calibrate(task_s)
    cluster, client = start()
    with cluster, client:
        check(len(client.gather(client.map(spin, [1000, 1000], [0, 1], pure=False))) == 2, "warm-up")
        t0 = now()
        results = client.gather(client.map(spin, [n] * tasks, range(tasks), pure=False))
        wall = now() - t0
    for k, (i, x, _) in enumerate(results):
        check(i == k and x == checksum, f"task {k} returned ({i}, {x}), expected ({k}, {checksum})")
    ideal = tasks * task_time / WORKERS
    emit({
        "efficiency": rounded(ideal / wall),
        "wall_s": rounded(wall),
        "ideal_s": rounded(ideal),
        "task_s": rounded(task_time),
        "task_s_on_worker": rounded(sum(r[2] for r in results) / tasks),  # mean; >> task_s means CPU contention
        # time inside tasks / (workers x wall): scheduling gaps only, blind to CPU contention
        "busy_fraction": rounded(sum(r[2] for r in results) / WORKERS / wall),
        "tasks": tasks,
    })


if __name__ == "__main__":
    main(**params({"tasks": 48, "task_s": 0.2}))
