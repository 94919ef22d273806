"""Reference peer for bench/train_bench.sh: torchvision's model trained by
Debian's python3-torch (same libtorch 1.13 as claimsweep) on in-memory random
tensors, with the same batch size, thread count, optimizer and loss. Prints
one JSON line: {"model", "batch", "threads", "images_per_s"} (steady state:
the first 3 steps are warm-up and not timed)."""
import argparse
import json
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=30)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = getattr(torchvision.models, a.model)(num_classes=10)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(0, 10, (a.batch,))
model.train()
for step in range(a.steps + 3):
    if step == 3:
        t0 = time.perf_counter()
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
dt = time.perf_counter() - t0
print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads,
                  "images_per_s": round(a.steps * a.batch / dt, 1)}))
