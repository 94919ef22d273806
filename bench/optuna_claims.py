#!/usr/bin/python3
"""Reference peer: claim throughput and duplicates of Optuna grid-sweep workers.

W processes share one Optuna study (JournalFileStorage on a local file) whose
GridSampler holds N points. Each trial "claims" one grid point; a good sweep
claims every point exactly once. We measure claims per second, duplicate claims
(two workers ran the same x) and missing points (never run).

Counting happens OUTSIDE Optuna: the objective appends "x worker" to a
per-worker file, and the parent counts those lines. Optuna's own trial records
are the thing under test, so they cannot be trusted to report their own
races (e.g. two workers both picking a point that looked unvisited).

Prints one JSON line on stdout; diagnostics go to stderr. Exit code 0 whenever
the JSON line is printed: duplicates are a measurement, not an error.

Workers on several nodes (bench/cluster_bench.sh) share --dir on a shared
filesystem in three steps: `--create` makes the study; `--join --first-worker I`
on each node runs --workers processes numbered from I, each writing
ready.<id> and then waiting for DIR/go (so that Python's start-up is not
timed); `--count --seconds S` counts every worker's claims and errors and
prints the JSON line, S being the time the caller measured from go.
"""
import argparse, glob, json, multiprocessing as mp, os, shutil, sys, tempfile, time
import traceback, warnings
from multiprocessing.connection import wait

import optuna

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_storage(path):
    # JournalFileSymlinkLock (Optuna 3.1's default), passed explicitly. It only guards
    # appends; read_logs() reads without a lock, so a reader can see a half-written
    # line and raise JSONDecodeError (optuna#5138, fixed in #5195) whichever lock is used.
    lock = optuna.storages.JournalFileSymlinkLock(path)
    return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path, lock_obj=lock))


def make_sampler(n):
    return optuna.samplers.GridSampler({"x": list(range(n))})


def worker(idx, d, n, timeout, barrier=False):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name="claims", storage=make_storage(os.path.join(d, "journal.log")),
                                  sampler=make_sampler(n))
        if barrier:
            open(os.path.join(d, f"ready.{idx}"), "w").close()
            while not os.path.exists(os.path.join(d, "go")):
                time.sleep(0.01)
        with open(os.path.join(d, f"claims.{idx}"), "a") as out:
            def objective(trial):
                x = trial.suggest_categorical("x", list(range(n)))
                out.write(f"{x} {idx}\n")
                out.flush()
                return 0.0
            # n_trials=None: run until GridSampler calls study.stop() (grid exhausted) or timeout.
            study.optimize(objective, n_trials=None, timeout=timeout)
    except BaseException:
        with open(os.path.join(d, f"error.{idx}"), "w") as f:
            f.write(traceback.format_exc())
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=400)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--create", action="store_true", help="only create the study in --dir")
    mode.add_argument("--join", action="store_true", help="only run workers on --dir's study (barrier: DIR/go)")
    mode.add_argument("--count", action="store_true", help="only count --dir's claims")
    ap.add_argument("--first-worker", type=int, default=0, help="--join: the first worker's number")
    ap.add_argument("--seconds", type=float, help="--count: the measured wall time")
    ap.add_argument("--total-workers", type=int, help="--count: workers on all nodes (default --workers)")
    ap.add_argument("--timed-out", action="store_true", help="--count: some worker was stopped first")
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if (a.create or a.join or a.count) and not a.dir:
        ap.error("--create, --join and --count need --dir")
    d = a.dir or tempfile.mkdtemp(prefix="optuna_claims_")
    if a.count:
        errors = 0
        for fn in sorted(glob.glob(os.path.join(d, "error.*"))):
            errors += 1
            print(f"{os.path.basename(fn)}: " + open(fn).read().strip().splitlines()[-1], file=sys.stderr)
        print_result(a, d, a.total_workers or a.workers, a.seconds, errors, finished=not a.timed_out)
        return
    os.makedirs(d, exist_ok=True)
    if not a.join:
        optuna.create_study(study_name="claims", storage=make_storage(os.path.join(d, "journal.log")),
                            sampler=make_sampler(a.points))
    if a.create:
        return

    ctx = mp.get_context("spawn")
    ids = range(a.first_worker, a.first_worker + a.workers)
    procs = [ctx.Process(target=worker, args=(i, d, a.points, a.timeout, a.join)) for i in ids]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    deadline, t_end = t0 + a.timeout + 30, t0
    alive = {p.sentinel: p for p in procs}
    while alive and time.monotonic() < deadline:
        for s in wait(list(alive), timeout=max(0.0, deadline - time.monotonic())):
            del alive[s]
            t_end = time.monotonic()
    killed = list(alive.values())
    for p in killed:
        print(f"killing straggler pid {p.pid}", file=sys.stderr)
        p.kill()
    for p in procs:
        p.join()
    if killed:
        t_end = time.monotonic()

    if a.join:
        # Errors stay in error.<id> for --count. Exit 3: a worker was stopped at the timeout.
        sys.exit(3 if killed else 1 if any(p.exitcode != 0 for p in procs) else 0)

    errors = 0
    for i, p in enumerate(procs):
        err = os.path.join(d, f"error.{i}")
        if os.path.exists(err):
            print(f"worker {i} raised: " + open(err).read().strip().splitlines()[-1], file=sys.stderr)
        if p not in killed and (p.exitcode != 0 or os.path.exists(err)):
            errors += 1
            print(f"worker {i} exit code {p.exitcode}", file=sys.stderr)

    print(f"dir {d}; killed {len(killed)}", file=sys.stderr)
    print_result(a, d, a.workers, t_end - t0, errors, finished=not killed)
    if not (a.dir or a.keep):
        shutil.rmtree(d, ignore_errors=True)


def print_result(a, d, workers, seconds, errors, finished):
    xs = []
    for fn in glob.glob(os.path.join(d, "claims.*")):
        for line in open(fn):
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():  # skip a torn last line of a killed worker
                xs.append(int(parts[0]))
    unique = len(set(xs))
    print(json.dumps({
        "peer": f"optuna-{optuna.__version__}-journal-file", "points": a.points, "workers": workers,
        "claims": len(xs), "unique": unique, "duplicates": len(xs) - unique, "missing": a.points - unique,
        "seconds": round(seconds, 3), "claims_per_s": round(len(xs) / seconds, 2) if seconds else 0.0,
        "worker_errors": errors, "finished": finished}))


if __name__ == "__main__":
    main()
