#!/usr/bin/env python3
"""PyTorch's side of `./jnorm bench`: the same norms, shapes, dtypes and timing method,
written in the same JSON schema, so that `./jnorm bench --compare torch.json` can put them side
by side.

Timing: CUDA events around each run, an L2 flush (writing twice the L2 size) before each, warm-up
runs first, the median of --runs (at least 20). Forward: the torch.nn.functional op. Backward
("torch-eager"): autograd of that op for the input and every parameter, retain_graph so the
forward is not re-timed. Backward ("torch-aten"): the ATen backward op called directly where one
exists (native_batch_norm_backward, native_layer_norm_backward, native_group_norm_backward).
RMSNorm needs PyTorch 2.4 (torch.nn.functional.rms_norm); Batch-Instance and Switchable have no
PyTorch op and are left out. The copy bandwidth is measured in the same run, as jnorm does.
--dtype float16,bfloat16 times 16-bit input with float32 weight, bias and running statistics (mixed
precision, as jnorm's 16-bit layers keep them); where an op refuses mixed dtypes, the parameters
take the input's dtype and the row says so ("params": the dtype used).

Usage: python3 bench/torch_baseline.py [--suite group,batch,...] [--norm ...] [--runs 25]
                                        [--dtype float32,float16,bfloat16] [--out torch.json] [--device cuda]
On a machine without CUDA it runs on the CPU over jnorm's small CPU shapes (--device cpu).
"""
import argparse
import datetime
import json
import sys
import time

import torch
import torch.nn.functional as F

GROUPS = 32
SUITE_OF = {"group": "group", "batch": "batch", "instance": "instance", "layer": "rows", "rms": "rows",
            "weight": "weight"}
GPU = {
    "group": [(2, 256, 200, 304), (2, 256, 100, 152), (2, 320, 64, 64), (8, 640, 32, 32), (1, 512, 128, 128),
              (32, 256, 56, 56)],
    "batch": [(256, 64, 112, 112), (128, 256, 56, 56), (2, 256, 200, 304), (65536, 256)],
    "instance": [(4, 64, 256, 256), (4, 128, 64, 64), (1, 32, 512, 512)],
    "rows": [(4096, 768), (4096, 1024), (4096, 2048), (4096, 4096), (4096, 8192), (8192, 1600), (4096, 1000),
             (4096, 2041)],
    "weight": [(512, 512, 3, 3), (256, 256, 3, 3), (4096, 1024)],
}
CPU = {
    "group": [(2, 64, 32, 32), (4, 32, 16, 16)],
    "batch": [(16, 32, 32, 32), (512, 64)],
    "instance": [(2, 16, 32, 32)],
    "rows": [(64, 768), (64, 1000)],
    "weight": [(64, 64, 3, 3)],
}


class Timer:
    def __init__(self, device):
        self.device = device
        if device.type == "cuda":
            l2 = torch.cuda.get_device_properties(device).L2_cache_size
            self.flush_buffer = torch.empty(2 * max(l2, 1 << 20) // 4, dtype=torch.float32, device=device)

    def micros(self, fn):
        if self.device.type != "cuda":
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) * 1e6
        self.flush_buffer.zero_()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1000

    def median(self, fn, warmup, runs):
        for _ in range(warmup):
            fn()
        times = sorted(self.micros(fn) for _ in range(runs))
        return times[len(times) // 2], times[0]


def traffic(norm, direction, mode, shape, groups, shared, dtype="float32"):
    """Minimal bytes and the two-pass floor, as jnorm's Traffic computes them (bytes per value of the dtype)."""
    values = 1
    for d in shape:
        values *= d
    n = shape[0]
    c = shape[1] if len(shape) > 1 else 1
    s = values // (n * c)
    forward = direction == "forward"
    weight = norm == "weight"
    size = 4 if dtype == "float32" or weight else 2  # a 16-bit weight is reparameterized in float32
    minimal = values * size * (2 if forward else 4 if weight else 3)
    eval_batch = norm == "batch" and mode == "eval"
    group = {"batch": n * s, "instance": s, "group": c // max(groups, 1) * s, "layer": shape[-1], "rms": shape[-1],
             "weight": values // n}[norm]
    fits = not (norm == "batch" and not eval_batch) and (weight or eval_batch or (4 if forward else 8) * group <= shared)
    floor = minimal if fits else values * size * (3 if forward else 5)
    # the learnable parameters, float32: forward reads them; backward reads all but the bias and reads and
    # writes each gradient (a reparameterization's parameters are its data, counted above)
    if not weight:
        per = shape[-1] if norm in ("layer", "rms") else c
        params, biases = (per, 0) if norm == "rms" else (2 * per, per)
        extra = 4 * params if forward else 4 * (params - biases) + 8 * params
        minimal, floor = minimal + extra, floor + extra
    return minimal, floor


def cases(norms, suites, gpu):
    for norm in norms:
        suite = SUITE_OF[norm]
        if suite not in suites:
            continue
        for shape in (GPU if gpu else CPU)[suite]:
            groups = min(GROUPS, shape[1]) if norm == "group" else 0
            yield norm, "forward", "train", shape, groups
            yield norm, "backward", "train", shape, groups
            if norm == "batch":
                yield norm, "forward", "eval", shape, groups


def operations(norm, mode, shape, groups, device, dtype=torch.float32, pdtype=torch.float32):
    """(forward fn, eager backward fn, ATen backward fn or None) for one case: data in dtype,
    parameters and running statistics in pdtype."""
    g = torch.Generator(device="cpu").manual_seed(0)
    x = (torch.rand(shape, generator=g) * 4 - 2).to(device, dtype)
    dy = (torch.rand(shape, generator=g) * 4 - 2).to(device, dtype)
    c = shape[1] if len(shape) > 1 else shape[0]
    eps = 1e-5
    if norm == "weight":
        v = x.to(pdtype).requires_grad_()  # a 16-bit weight is kept in float32, as jnorm keeps it
        dy = dy.to(pdtype)
        gnorm = torch.norm_except_dim(v.detach(), 2, 0).requires_grad_()
        forward = lambda: torch._weight_norm(v, gnorm, 0)
        leaves = [v, gnorm]
    else:
        w = torch.ones(c if norm not in ("layer", "rms") else shape[-1], device=device, dtype=pdtype,
                       requires_grad=True)
        b = torch.zeros_like(w).requires_grad_()
        rm, rv = torch.zeros(c, device=device, dtype=pdtype), torch.ones(c, device=device, dtype=pdtype)
        if norm == "batch":
            forward = lambda: F.batch_norm(x_, rm, rv, w, b, mode == "train", 0.1, eps)
        elif norm == "instance":
            forward = lambda: F.instance_norm(x_, None, None, w, b, True, 0.1, eps)
        elif norm == "group":
            forward = lambda: F.group_norm(x_, groups, w, b, eps)
        elif norm == "layer":
            forward = lambda: F.layer_norm(x_, (shape[-1],), w, b, eps)
        else:
            if not hasattr(F, "rms_norm"):
                return None
            forward = lambda: F.rms_norm(x_, (shape[-1],), w, None)
        x_ = x.clone().requires_grad_()
        leaves = [x_, w] + ([b] if norm != "rms" else [])
    y = forward()
    eager = lambda: torch.autograd.grad(y, leaves, dy, retain_graph=True)
    aten = aten_backward(norm, x, dy, shape, groups, c, eps, device, pdtype)
    return (lambda: forward()), eager, aten


def aten_backward(norm, x, dy, shape, groups, c, eps, device, pdtype=torch.float32):
    w = torch.ones(c if norm != "layer" else shape[-1], device=device, dtype=pdtype)
    b = torch.zeros_like(w)
    mask = [True, True, True]
    if norm == "batch":
        _, mean, invstd = torch.native_batch_norm(x, w, b, None, None, True, 0.1, eps)
        return lambda: torch.ops.aten.native_batch_norm_backward(dy, x, w, None, None, mean, invstd, True, eps, mask)
    if norm == "layer":
        _, mean, rstd = torch.native_layer_norm(x, (shape[-1],), w, b, eps)
        return lambda: torch.ops.aten.native_layer_norm_backward(dy, x, (shape[-1],), mean, rstd, w, b, mask)
    if norm == "group":
        n, hw = shape[0], x[0, 0].numel()
        _, mean, rstd = torch.native_group_norm(x, w, b, n, c, hw, groups, eps)
        return lambda: torch.ops.aten.native_group_norm_backward(dy, x, mean, rstd, w, n, c, hw, groups, mask)
    return None


def copy_tbps(timer, device, runs):
    n = (1 << 30) // 4 if device.type == "cuda" else (64 << 20) // 4
    src, dst = torch.zeros(n, device=device), torch.empty(n, device=device)
    micros, _ = timer.median(lambda: dst.copy_(src), 2, runs)
    return 2 * 4 * n / (micros * 1e-6) / 1e12


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", default="all")
    p.add_argument("--norm", default="all")
    p.add_argument("--runs", type=int, default=25)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", default="torch.json")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", help="float32, float16, bfloat16 (comma-separated) or all")
    a = p.parse_args()
    if a.runs < 20:
        sys.exit("--runs must be at least 20")
    device = torch.device(a.device)
    gpu = device.type == "cuda"
    norms = list(SUITE_OF) if a.norm == "all" else a.norm.split(",")
    suites = ["group", "batch", "instance", "rows", "weight"] if a.suite == "all" else a.suite.split(",")
    shared = torch.cuda.get_device_properties(device).shared_memory_per_block_optin if gpu else 227 << 10
    timer = Timer(device)
    copy = copy_tbps(timer, device, a.runs)
    name = torch.cuda.get_device_name(device) if gpu else "CPU"
    print(f"PyTorch {torch.__version__} on {name}: copy bandwidth {copy:.3f} TB/s", file=sys.stderr)
    dtypes = ["float32", "float16", "bfloat16"] if a.dtype == "all" else a.dtype.split(",")
    rows = []
    todo = [(t,) + case for t in dtypes for case in cases(norms, suites, gpu)]
    for i, (dtype, norm, direction, mode, shape, groups) in enumerate(todo):
        print(f"[{i + 1}/{len(todo)}] {norm} {direction} {mode} {list(shape)} {dtype}", file=sys.stderr)
        data = getattr(torch, dtype)
        pdtype = torch.float32 if dtype != "float64" else data
        try:
            ops = operations(norm, mode, shape, groups, device, data, pdtype)
        except RuntimeError:  # an op without mixed-dtype support: parameters in the input's dtype
            pdtype = data
            ops = operations(norm, mode, shape, groups, device, data, pdtype)
        if ops is None:
            continue
        forward, eager, aten = ops
        minimal, floor = traffic(norm, direction, mode, shape, groups, shared, dtype)
        timed = [("torch-eager", forward if direction == "forward" else eager)]
        if direction == "backward" and aten is not None:
            timed.append(("torch-aten", aten))
        for impl, fn in timed:
            with torch.no_grad() if direction == "forward" else torch.enable_grad():
                us, best = timer.median(fn, a.warmup, a.runs)
            tbps = minimal / (us * 1e-6) / 1e12
            ftbps = floor / (us * 1e-6) / 1e12
            rows.append({"impl": impl, "norm": norm, "direction": direction, "mode": mode, "shape": list(shape),
                         "groups": groups, "dtype": dtype, "params": str(pdtype).replace("torch.", ""),
                         "us": round(us, 3), "min_us": round(best, 3),
                         "minimal_bytes": minimal, "floor_bytes": floor, "tbps": round(tbps, 3),
                         "pct_copy": round(100 * tbps / copy, 3), "floor_tbps": round(ftbps, 3),
                         "floor_pct_copy": round(100 * ftbps / copy, 3), "runs": a.runs})
    report = {"implementation": "torch " + torch.__version__, "device": name, "copy_tbps": round(copy, 3),
              "date": datetime.datetime.now().astimezone().isoformat(), "command": " ".join(sys.argv), "rows": rows}
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
