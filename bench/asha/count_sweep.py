#!/usr/bin/python3
"""Counts a finished claimsweep sweep of bench/asha/asha_bench.sh from its directory.

  count_sweep.py DIR [--budgets 1,3,9]

Epochs trained: the "epoch E/N  train_loss ..." lines of every attempt's log
(DIR/trials/<c>/attempt-*/log, and DIR/stages/rung-<k>/items/<c>-0000/
attempt-*/log for the rungs above 0), one line per epoch a trainer finished,
whichever attempt or rung trained it. A duplicate epoch is a (configuration,
epoch) trained more than once; a duplicate promotion is a configuration with
more than one item, or an item with more than one attempt that trained, in
one rung. Each configuration's epochs are checked against the budget of the
highest rung it reached (its score markers DIR/rungs/<k>/<c>=<value>) and
against its metrics.csv rows.

The best configuration: the highest rung reached, then the best value of the
metric there (ties: the lower configuration), as the rungs' markers say; for
a sweep without early stopping, the best final val_acc. Its test accuracy is
test_acc of its record at that rung (result.json).

Prints one JSON line.
"""
import csv
import glob
import json
import os
import re
import sys

EPOCH_LINE = re.compile(r"\bepoch (\d+)/(\d+)  train_loss ")


def config_of(path, root):
    rel = os.path.relpath(path, root).split(os.sep)
    if rel[0] == "trials":
        return int(rel[1]), 0
    if rel[0] == "stages" and rel[1].startswith("rung-") and rel[2] == "items":
        return int(rel[3].split("-")[0]), int(rel[1][5:])
    return None, None


def read_json(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def record_path(root, c, k):
    if k == 0:
        return os.path.join(root, "trials", "%06d" % c, "result.json")
    return os.path.join(root, "stages", "rung-%d" % k, "items", "%06d-0000" % c, "result.json")


def main():
    root = sys.argv[1]
    budgets = [1, 3, 9]
    if "--budgets" in sys.argv:
        budgets = [int(b) for b in sys.argv[sys.argv.index("--budgets") + 1].split(",")]
    logs = glob.glob(os.path.join(root, "trials", "*", "attempt-*", "log")) + glob.glob(
        os.path.join(root, "stages", "rung-*", "items", "*", "attempt-*", "log"))
    epochs = 0
    trained = {}  # config -> {epoch: times}
    trained_attempts = {}  # (config, rung) -> attempts that trained an epoch
    for log in logs:
        c, k = config_of(log, root)
        if c is None:
            continue
        n = 0
        for line in open(log, errors="replace"):
            m = EPOCH_LINE.search(line)
            if m:
                e = int(m.group(1))
                t = trained.setdefault(c, {})
                t[e] = t.get(e, 0) + 1
                epochs += 1
                n += 1
        if n:
            trained_attempts[(c, k)] = trained_attempts.get((c, k), 0) + 1
    dup_epochs = sum(n - 1 for t in trained.values() for n in t.values() if n > 1)
    dup_promotions = sum(n - 1 for (c, k), n in trained_attempts.items() if k > 0 and n > 1)
    dup_trials = sum(n - 1 for (c, k), n in trained_attempts.items() if k == 0 and n > 1)

    # Rungs reached, from the score markers.
    scores = {}  # k -> {c: value or None (fail)}
    for d in glob.glob(os.path.join(root, "rungs", "*")):
        k = int(os.path.basename(d))
        for name in os.listdir(d):
            c, _, v = name.partition("=")
            scores.setdefault(k, {})[int(c)] = None if v == "fail" else float(v)
    # Rung items without a marker (a promotion that never finished) still count as promoted.
    items = {}
    for d in glob.glob(os.path.join(root, "stages", "rung-*", "items", "*")):
        k = int(os.path.basename(os.path.dirname(os.path.dirname(d)))[5:])
        items.setdefault(k, set()).add(int(os.path.basename(d).split("-")[0]))
    configs = sorted(trained)
    reached = {}
    for c in configs:
        ks = [k for k, s in scores.items() if c in s] + [k for k, s in items.items() if c in s]
        reached[c] = max(ks) if ks else None
    beyond_budget = 0  # epochs trained past the budget of the highest rung reached
    short = 0  # configurations with fewer epochs than that budget
    csv_mismatch = 0
    for c in configs:
        got = max(trained[c])
        want = budgets[reached[c]] if reached[c] is not None else budgets[-1]
        if not scores:
            want = budgets[-1]
        beyond_budget += max(0, got - want)
        short += got < want
        mpath = os.path.join(root, "trials", "%06d" % c, "metrics.csv")
        if reached[c] and reached[c] > 0:
            p = os.path.join(os.path.dirname(record_path(root, c, reached[c])), "metrics.csv")
            if os.path.exists(p):
                mpath = p
        rows = list(csv.DictReader(open(mpath))) if os.path.exists(mpath) else []
        csv_mismatch += len(rows) != got

    out = {"dir": root, "configurations": len(configs), "epochs": epochs,
           "distinct_epochs": sum(len(t) for t in trained.values()),
           "duplicate_epochs": dup_epochs, "duplicate_trials": dup_trials,
           "duplicate_promotions": dup_promotions, "epochs_beyond_budget": beyond_budget,
           "short_of_budget": short, "metrics_csv_mismatches": csv_mismatch}
    if scores:
        out["per_rung"] = [len(scores.get(k, {})) for k in range(len(budgets))]
        # The highest rung with a finite result (a failed one never ranks).
        top = max(k for k, s in scores.items() if any(v is not None for v in s.values()))
        finite = [(v, c) for c, v in scores[top].items() if v is not None]
        best_v, best_c = max(finite, key=lambda vc: (vc[0], -vc[1]))
        best_k = top
    else:
        best = None
        for c in configs:
            rec = read_json(record_path(root, c, 0))
            if rec and rec.get("outcome") == "done":
                v = rec["metrics"]["val_acc"]
                if best is None or (v, -c) > (best[0], -best[1]):
                    best = (v, c)
        best_v, best_c, best_k = best[0], best[1], 0
    rec = read_json(record_path(root, best_c, best_k)) or {}
    m = rec.get("metrics", {})
    out.update({"best_config": best_c, "best_rung": best_k, "best_val_acc": best_v,
                "best_epochs": m.get("epochs"), "best_test_acc": m.get("test_acc"),
                "best_lr": rec.get("params", {}).get("lr"),
                "best_weight_decay": rec.get("params", {}).get("weight_decay")})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
