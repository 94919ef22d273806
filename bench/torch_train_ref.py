"""Reference peer for bench/train_bench.sh: torchvision's model trained by
Debian's python3-torch (the same libtorch 1.13 as claimsweep) on in-memory
tensors, with the same batch size, thread count, optimizer and loss.

With --data DIR the tensors are the train split of a claimsweep dataset,
loaded into memory once (normalized with the manifest's mean/std, no
augmentation): the same images claimsweep trains on, which matters because
oneDNN's speed depends on the data (random normal inputs train about 20%
slower than images here). Without it, random normal tensors.

Prints one JSON line: {"model", "batch", "threads", "images_per_s"}, steady
state (the first 3 steps are warm-up and not timed)."""
import argparse
import glob
import json
import os
import re
import struct
import time

import torch
import torchvision


def read_records(data_dir, split="train"):
    """The raw images (uint8 H x W x C bytes each), labels, (H, W, C), mean and std
    of one split, from its .csrec shards and the manifest."""
    manifest = open(os.path.join(data_dir, "manifest.textproto")).read()
    h, w, c = (int(re.search(r"\b%s: (\d+)" % k, manifest).group(1)) for k in ("height", "width", "channels"))
    mean = [float(v) for v in re.findall(r"\bmean: ([0-9.eE+-]+)", manifest)]
    std = [float(v) for v in re.findall(r"\bstd: ([0-9.eE+-]+)", manifest)]
    images, labels = [], []
    for path in sorted(glob.glob(os.path.join(data_dir, split + "-*.csrec"))):
        buf = open(path, "rb").read()
        pos = 8  # header
        while pos < len(buf):
            n, _crc = struct.unpack_from("<II", buf, pos)
            rec, pos = buf[pos + 8:pos + 8 + n], pos + 8 + n
            i, label, image = 0, 0, b""
            while i < len(rec):  # Example: 1 = image (bytes), 2 = label (varint)
                tag, i = rec[i], i + 1
                v, shift = 0, 0
                while True:
                    b, i = rec[i], i + 1
                    v |= (b & 0x7F) << shift
                    shift += 7
                    if b < 0x80:
                        break
                if tag == 0x0A:
                    image, i = rec[i:i + v], i + v
                elif tag == 0x10:
                    label = v
            images.append(image)
            labels.append(label)
    return images, labels, (h, w, c), mean, std


def read_split(data_dir, split="train"):
    """Images (normalized float, N x C x H x W) and labels of one split."""
    images, labels, (h, w, c), mean, std = read_records(data_dir, split)
    x = torch.frombuffer(bytearray(b"".join(images)), dtype=torch.uint8).view(-1, h, w, c)
    x = x.permute(0, 3, 1, 2).float().div(255)
    x = (x - torch.tensor(mean).view(1, c, 1, 1)) / torch.tensor(std).view(1, c, 1, 1)
    return x.contiguous(), torch.tensor(labels)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--data", help="a claimsweep dataset directory (else random tensors)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.data:
        xs, ys = read_split(a.data)
    else:
        xs, ys = torch.randn(a.batch * 4, 3, 32, 32), torch.randint(0, 10, (a.batch * 4,))
    model = getattr(torchvision.models, a.model)(num_classes=int(ys.max()) + 1 if a.data else 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model.train()
    batches = len(xs) // a.batch
    for step in range(a.steps + 3):
        if step == 3:
            t0 = time.perf_counter()
        k = step % batches
        x, y = xs[k * a.batch:(k + 1) * a.batch], ys[k * a.batch:(k + 1) * a.batch]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads,
                      "images_per_s": round(a.steps * a.batch / dt, 1)}))


if __name__ == "__main__":
    main()
