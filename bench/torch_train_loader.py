"""Second peer for bench/train_bench.sh: PyTorch as researchers write it.

torchvision's model (the same 10-class head as torch_train_ref.py) trained on
the train split of a claimsweep dataset (the same record shards claimsweep
reads), through a torch.utils.data.Dataset over the images with the usual
CIFAR transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor,
Normalize with the manifest's mean/std) and a shuffling DataLoader with
worker processes; SGD, cross-entropy, the running loss and accuracy read with
.item() every step, as the common CIFAR training scripts do.

Like torchvision's CIFAR10 dataset, the images are decoded once into a uint8
array and each item goes through PIL. The default --workers 1 matches
claimsweep's loader_threads: 1 in the bench: on 2 cores with 2 compute
threads a second worker process only adds contention.

Prints one JSON line: {"model", "batch", "threads", "workers", "epochs",
"images_per_s"}, where images_per_s is the last epoch's (the steady state:
the first includes warm-up), images over the epoch's wall time."""
import argparse
import json
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from torch_train_ref import read_records


class RecordImages(torch.utils.data.Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--data", required=True, help="a claimsweep dataset directory")
p.add_argument("--batch", type=int, default=128)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--workers", type=int, default=1)
p.add_argument("--epochs", type=int, default=2)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
raw, labels, (h, w, c), mean, std = read_records(a.data)
images = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(-1, h, w, c)
if c == 1:
    images = images[:, :, :, 0]
train_set = RecordImages(images, labels, transforms.Compose([
    transforms.RandomCrop(h, padding=4),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    transforms.Normalize(mean, std),
]))
loader = torch.utils.data.DataLoader(train_set, batch_size=a.batch, shuffle=True, num_workers=a.workers)
model = getattr(torchvision.models, a.model)(num_classes=max(labels) + 1)
criterion = torch.nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
for epoch in range(a.epochs):
    model.train()
    t0 = time.perf_counter()
    train_loss, correct, total = 0.0, 0, 0
    for x, y in loader:
        opt.zero_grad()
        outputs = model(x)
        loss = criterion(outputs, y)
        loss.backward()
        opt.step()
        train_loss += loss.item() * y.size(0)
        correct += outputs.argmax(1).eq(y).sum().item()
        total += y.size(0)
    dt = time.perf_counter() - t0
print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads, "workers": a.workers,
                  "epochs": a.epochs, "images_per_s": round(total / dt, 1)}))
