#!/usr/bin/env python3
"""PyTorch CPU's side of `./jnorm study small-batch`: the study's exact network, optimizer and batch
sizes, trained on the CPU with the same number of threads, timed in images per second.

The network (dev.jnorm.study.SmallCnn): three blocks of 3x3 convolution (16, 32, 64 channels; a bias
only without a norm), norm, ReLU, with 2x2 max pooling after the first two; global average pooling;
a linear layer to 10 classes. GroupNorm takes min(16, C/2) groups. SGD with momentum 0.9 and weight
decay 5e-4, the learning rate 0.05 at batch 32 scaled linearly. The images are random 28x28 ones:
the speed does not depend on what they show. Each run trains --warmup steps untimed, then times
--images images (forward, cross-entropy, backward, step), as jnorm's study times its training.

Usage: bench/torch_cpu_study.py [--norms batch,group] [--batch-sizes 32,2] [--threads 2]
                                [--images 6400] [--warmup 20] [--out torch-cpu-study.json]
"""
import argparse
import json
import time

import torch
import torch.nn as nn


def norm_layer(norm, channels):
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(min(16, channels // 2), channels)
    if norm == "none":
        return None
    raise SystemExit("--norms takes batch, group or none, got " + norm)


def network(norm):
    layers = []
    cin = 1
    for block, cout in enumerate((16, 32, 64)):
        n = norm_layer(norm, cout)
        layers.append(nn.Conv2d(cin, cout, 3, padding=1, bias=n is None))
        if n is not None:
            layers.append(n)
        layers.append(nn.ReLU())
        if block < 2:
            layers.append(nn.MaxPool2d(2))
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def images_per_second(norm, batch, images, warmup):
    torch.manual_seed(2018)
    net = network(norm)
    opt = torch.optim.SGD(net.parameters(), lr=0.05 * batch / 32, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    steps = max(1, images // batch)
    x = torch.randn(warmup + steps, batch, 1, 28, 28)
    y = torch.randint(0, 10, (warmup + steps, batch))

    def step(i):
        opt.zero_grad()
        loss = loss_fn(net(x[i]), y[i])
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    return steps * batch / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--norms", default="batch,group")
    p.add_argument("--batch-sizes", default="32,2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=6400)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--out", default="torch-cpu-study.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for norm in a.norms.split(","):
        for batch in (int(b) for b in a.batch_sizes.split(",")):
            rate = images_per_second(norm, batch, a.images, a.warmup)
            rows.append({"norm": norm, "batch_size": batch, "images_per_second": round(rate, 1)})
            print(f"{norm:8s} batch {batch:3d}: {rate:8.1f} images/s")
    with open(a.out, "w") as f:
        json.dump({"torch": torch.__version__, "threads": a.threads, "images": a.images, "results": rows}, f,
                  indent=2)


if __name__ == "__main__":
    main()
