#!/usr/bin/python3
"""Reference peer of bench/asha/asha_bench.sh: Optuna 3.1's SuccessiveHalvingPruner.

The same training as claimsweep's `resnet_cifar` depth 8 train task
(models/models.cc, models/trainer.cc), written in Debian's python3-torch:

  model     conv3x3(3->16)+BN+ReLU, three stages of one basic block (16, 32,
            64 planes; stride 2 and a 1x1 conv+BN projection where the shape
            changes), global average pool, fc; convolutions kaiming_normal_
            (fan_out, relu), BN weight 1 / bias 0, the Linear layer's default
            init; torch.manual_seed(0) before building it (claimsweep's
            per-trial seed is 0 by default, the same for every configuration)
  optimizer SGD, momentum 0.9, no Nesterov, the configuration's lr and
            weight_decay, constant schedule, batch 64 (the last batch partial)
  data      the dataset's train split shuffled each epoch, augmented as
            claimsweep's loader does (shift by -4..4 pixels on both axes with
            black fill, horizontal flip with probability 1/2), normalized with
            the manifest's mean/std; val_acc on the val split after each
            epoch and test_acc on the test split at the end (eval mode)
  threads   1 per worker (as `trial` with SLURM_CPUS_PER_TASK=1)

The random streams (data order, augmentation, initial weights) are torch's,
not claimsweep's, so accuracies agree in distribution, not bit for bit.

Modes (one JSON line on stdout each; diagnostics on stderr):
  --single LR WD --epochs E       train one configuration (a check of the peer)
  --create --params FILE          a study in --dir on JournalStorage(
                                  JournalFileStorage) with the pruner
                                  (min_resource 1, reduction_factor 3), and the
                                  configurations of FILE (`sweep points --format
                                  json`) enqueued in order with enqueue_trial
  --run --workers W               W worker processes on --dir's study until
                                  the queue is empty; prints the wall time
  --count                         what the journal and the workers' own files say

Each worker appends a line "trial_number lr wd epoch val_acc" to
DIR/epochs.<worker> for every epoch it trains, outside Optuna: the epochs
trained and the duplicates are counted from those files, and checked against
the journal's intermediate values.
"""
import argparse
import glob
import json
import multiprocessing as mp
import os
import sys
import time
import traceback
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_train_ref import read_records  # noqa: E402  (bench/torch_train_ref.py)

STUDY = "asha"


# ---- the model: models/models.cc ResNetImpl(cifar=true, blocks {1, 1, 1}) ----

class Block(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, 0, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y = y + (self.downsample(x) if self.downsample is not None else x)
        return F.relu(y)


class ResNetCifar(nn.Module):
    def __init__(self, depth=8, in_channels=3, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for s in range(3):
            planes = 16 << s
            blocks = []
            for b in range(n):
                blocks.append(Block(inp, planes, 2 if (b == 0 and s > 0) else 1))
                inp = planes
            layers.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(inp, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# ---- data: a claimsweep dataset directory -------------------------------------

class Data:
    def __init__(self, data_dir):
        self.splits = {}
        for split in ("train", "val", "test"):
            images, labels, (h, w, c), mean, std = read_records(data_dir, split)
            x = torch.frombuffer(bytearray(b"".join(images)), dtype=torch.uint8).view(-1, h, w, c)
            self.splits[split] = (x.permute(0, 3, 1, 2).contiguous(), torch.tensor(labels))
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.classes = int(self.splits["train"][1].max()) + 1

    def normalize(self, x):  # uint8 N x C x H x W -> float
        return (x.float().div(255) - self.mean) / self.std

    def augment(self, x, gen):
        """claimsweep's loader: out(y, x) = in(y + oy, (flip ? W-1-x : x) + ox), 0 outside;
        oy, ox uniform in -4..4, flip with probability 1/2, per image."""
        n, _, h, w = x.shape
        flip = torch.randint(0, 2, (n,), generator=gen).bool()
        x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
        padded = F.pad(x, (4, 4, 4, 4))
        oy = torch.randint(-4, 5, (n,), generator=gen)
        ox = torch.randint(-4, 5, (n,), generator=gen)
        out = torch.empty_like(x)
        for i in range(n):
            y0, x0 = 4 + int(oy[i]), 4 + int(ox[i])
            out[i] = padded[i, :, y0:y0 + h, x0:x0 + w]
        return out


def evaluate(model, data, split):
    x, y = data.splits[split]
    model.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(x), 256):
            correct += int(model(data.normalize(x[k:k + 256])).argmax(1).eq(y[k:k + 256]).sum())
    model.train()
    return correct / len(x)


class Run:
    """One configuration's training, an epoch at a time."""

    def __init__(self, data, lr, wd, batch=64):
        torch.manual_seed(0)
        self.data, self.batch = data, batch
        self.model = ResNetCifar(8, 3, data.classes)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
        self.gen = torch.Generator().manual_seed(1)
        self.diverged = False

    def epoch(self):
        x, y = self.data.splits["train"]
        order = torch.randperm(len(x), generator=self.gen)
        self.model.train()
        for k in range(0, len(x), self.batch):
            idx = order[k:k + self.batch]
            xb = self.data.normalize(self.data.augment(x[idx], self.gen))
            self.opt.zero_grad()
            loss = F.cross_entropy(self.model(xb), y[idx])
            if not torch.isfinite(loss):
                self.diverged = True  # as claimsweep: a diverged run stops, worst value
                return 0.0
            loss.backward()
            self.opt.step()
        return evaluate(self.model, self.data, "val")


# ---- Optuna -------------------------------------------------------------------

def optuna_mod():
    import optuna
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)  # Trial.system_attrs in 3.1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage(d):
    optuna = optuna_mod()
    path = os.path.join(d, "journal.log")
    lock = optuna.storages.JournalFileSymlinkLock(path)  # Optuna 3.1's default, explicit
    return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path, lock_obj=lock))


def pruner():
    return optuna_mod().pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3,
                                                        min_early_stopping_rate=0)


def create(d, params_file):
    optuna = optuna_mod()
    os.makedirs(d, exist_ok=True)
    study = optuna.create_study(study_name=STUDY, storage=storage(d), direction="maximize",
                                pruner=pruner(), sampler=optuna.samplers.RandomSampler(seed=2))
    points = json.load(open(params_file))
    for p in points:
        study.enqueue_trial({"lr": float(p["lr"]), "weight_decay": float(p["weight_decay"])},
                            user_attrs={"config": int(p["index"])})
    return len(points)


def worker(idx, d, data_dir, max_epochs):
    optuna = optuna_mod()
    torch.set_num_threads(1)
    try:
        data = Data(data_dir)
        study = optuna.load_study(study_name=STUDY, storage=storage(d), pruner=pruner())
        with open(os.path.join(d, f"epochs.{idx}"), "a") as out:
            while True:
                trial = study.ask()
                if "fixed_params" not in trial.system_attrs:
                    # The queue is empty: this trial was not enqueued. Do not train it.
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    return
                lr = trial.suggest_float("lr", 0.001, 0.5, log=True)
                wd = trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
                run = Run(data, lr, wd)
                pruned = False
                for e in range(1, max_epochs + 1):
                    v = run.epoch()
                    out.write(f"{trial.number} {lr!r} {wd!r} {e} {v!r}\n")
                    out.flush()
                    trial.report(v, e)
                    if run.diverged or trial.should_prune():
                        pruned = True
                        break
                trial.set_user_attr("test_acc", evaluate(run.model, data, "test"))
                trial.set_user_attr("epochs", e)
                trial.set_user_attr("worker", idx)
                if pruned:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                else:
                    study.tell(trial, v)
    except BaseException:
        with open(os.path.join(d, f"error.{idx}"), "w") as f:
            f.write(traceback.format_exc())
        sys.exit(1)


def run_workers(d, data_dir, workers, max_epochs):
    t0 = time.time()
    procs = [mp.get_context("spawn").Process(target=worker, args=(i, d, data_dir, max_epochs))
             for i in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return time.time() - t0, [p.exitcode for p in procs]


def count(d, max_epochs):
    """Epochs trained and duplicates from the workers' own files; the best
    configuration (highest rung reached, then val_acc there) from the journal."""
    optuna = optuna_mod()
    lines = []
    workers_of = {}  # trial number -> the workers that trained it (2: a trial run twice)
    for path in sorted(glob.glob(os.path.join(d, "epochs.*"))):
        for ln in open(path):
            num, lr, wd, e, v = ln.split()
            lines.append((int(num), lr, wd, int(e), float(v)))
            workers_of.setdefault(int(num), set()).add(path)
    epochs = len(lines)
    seen, dup_epochs, trials_of = set(), 0, {}
    for num, lr, wd, e, _ in lines:
        key = (lr, wd, e)
        dup_epochs += key in seen
        seen.add(key)
        trials_of.setdefault((lr, wd), set()).add(num)
    # A configuration run as two trials, or one trial run by two workers.
    dup_trials = sum(len(s) - 1 for s in trials_of.values()) + sum(
        len(w) - 1 for w in workers_of.values())
    study = optuna.load_study(study_name=STUDY, storage=storage(d))
    trials = study.get_trials(deepcopy=False)
    run = [t for t in trials if "fixed_params" in t.system_attrs]
    journal_epochs = sum(len(t.intermediate_values) for t in run)
    best = None
    for t in run:
        if not t.intermediate_values:
            continue
        step = max(t.intermediate_values)
        key = (step, t.intermediate_values[step], -t.user_attrs.get("config", 0))
        if best is None or key > best[0]:
            best = (key, t)
    states = {}
    for t in run:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    out = {
        "epochs": epochs,
        "journal_epochs": journal_epochs,
        "configurations": len(trials_of),
        "trials": len(run),
        "duplicate_trials": dup_trials,
        "duplicate_epochs": dup_epochs,
        "states": states,
        "reached_max": sum(1 for t in run if t.intermediate_values and max(t.intermediate_values) >= max_epochs),
        "errors": len(glob.glob(os.path.join(d, "error.*"))),
    }
    if best:
        t = best[1]
        out.update({"best_config": t.user_attrs.get("config"), "best_lr": t.params["lr"],
                    "best_weight_decay": t.params["weight_decay"], "best_rung_epochs": best[0][0],
                    "best_val_acc": best[0][1], "best_test_acc": t.user_attrs.get("test_acc")})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir")
    ap.add_argument("--data", help="claimsweep dataset directory")
    ap.add_argument("--params", help="--create: `sweep points DIR --format json` output")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=9, help="max_epochs (the top rung)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--single", nargs=2, type=float, metavar=("LR", "WD"))
    mode.add_argument("--create", action="store_true")
    mode.add_argument("--run", action="store_true")
    mode.add_argument("--count", action="store_true")
    a = ap.parse_args()
    if a.single:
        torch.set_num_threads(1)
        data = Data(a.data)
        run, t0, curve = Run(data, *a.single), time.time(), []
        for _ in range(a.epochs):
            curve.append(run.epoch())
        print(json.dumps({"lr": a.single[0], "weight_decay": a.single[1], "val_acc": curve,
                          "test_acc": evaluate(run.model, data, "test"),
                          "seconds": round(time.time() - t0, 2)}))
    elif a.create:
        print(json.dumps({"enqueued": create(a.dir, a.params)}))
    elif a.run:
        secs, codes = run_workers(a.dir, a.data, a.workers, a.epochs)
        print(json.dumps({"seconds": round(secs, 2), "exit_codes": codes}))
    else:
        print(json.dumps(count(a.dir, a.epochs)))


if __name__ == "__main__":
    main()
