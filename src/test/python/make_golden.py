#!/usr/bin/env python3
"""Writes the golden fixtures of src/test/resources/golden from PyTorch.

Each case is a folder with the inputs (*.npy), an `args` file (the `jnorm run` arguments, one per
line, file names relative to the folder) and `expected/` holding what PyTorch computes for the
same call, in float64 with autograd: output, gradients, updated running statistics and the saved
statistics. GoldenFixtureTest replays every case through `jnorm run` and compares.

PyTorch has no RMSNorm before 2.4, no Batch-Instance and no Switchable norm: those references are
written out here from their definitions (DESIGN.md section 2) on top of PyTorch's autograd.
Float32 cases are computed in float64 from the float32 inputs, then rounded, so that they pin the
CPU reference (float64 inside) to within an ulp; float16 cases likewise, with their parameters and
statistics in float32.

Run with Debian's PyTorch: python3 src/test/python/make_golden.py   (PyTorch 1.13, NumPy 1.24)
"""
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "golden")
torch.manual_seed(20261123)


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


class Case:
    def __init__(self, name, dtype=np.float64):
        self.name, self.dtype = name, dtype
        self.dir = os.path.join(ROOT, name)
        os.makedirs(os.path.join(self.dir, "expected"))
        self.args = []

    def arg(self, *tokens):
        self.args.extend(str(t) for t in tokens)

    def input(self, option, name, tensor):
        """Saves an input file (rounded to the case's dtype) and returns it as float64. A float16 case
        stores only its data (x, dy) in float16: parameters and running statistics stay float32."""
        data = option in ("--input", "--grad-output")
        dtype = np.float32 if self.dtype == np.float16 and not data else self.dtype
        array = tensor.detach().numpy().astype(dtype)
        np.save(os.path.join(self.dir, name + ".npy"), array)
        self.arg(option, name + ".npy")
        return torch.from_numpy(array.astype(np.float64))

    def expect(self, name, tensor):
        data = name in ("output", "grad_input")
        array = tensor.detach().numpy().astype(np.float32 if self.dtype == np.float16 and not data else self.dtype)
        np.save(os.path.join(self.dir, "expected", name + ".npy"), array)

    def close(self):
        with open(os.path.join(self.dir, "args"), "w") as f:
            f.write("\n".join(self.args) + "\n")


def bfloat16(t):
    """t's values rounded to bfloat16 (to nearest even), as float64."""
    return t.detach().to(torch.bfloat16).to(torch.float64)


def run_case(name, norm, shape, forward, params=(), options=(), dtype=np.float64, grad=True, extra_inputs=(),
             storage=None):
    """forward(x, params: dict of leaf tensors) -> (output, {expected name: tensor}). With storage
    "bfloat16", the float32 files' x and dy are rounded to bfloat16 first (as --storage bfloat16
    rounds them), and the expected output and input gradient are rounded to bfloat16."""
    case = Case(name, dtype)
    case.arg("--norm", norm)
    x = case.input("--input", "x", rand(*shape))
    x = (bfloat16(x) if storage else x).requires_grad_()
    leaves = {}
    for option, pname, tensor in params:
        leaves[pname] = case.input(option, pname, tensor).requires_grad_()
    for option, fname, tensor in extra_inputs:
        leaves[fname] = case.input(option, fname, tensor)
    case.arg(*options)
    if storage:
        case.arg("--storage", storage)
    y, extra = forward(x, leaves)
    case.expect("output", bfloat16(y) if storage else y)
    for k, v in extra.items():
        case.expect(k, v)
    if grad:
        dy = case.input("--grad-output", "dy", rand(*y.shape))
        y.backward(bfloat16(dy) if storage else dy)
        case.expect("grad_input", bfloat16(x.grad) if storage else x.grad)
        for option, pname, _ in params:
            case.expect("grad_" + pname, leaves[pname].grad)
    case.close()


def saved_channels(x, eps):
    dims = [0] + list(range(2, x.dim()))
    mean = x.mean(dims)
    var = x.var(dims, unbiased=False)
    return mean, 1 / torch.sqrt(var + eps)


def saved_instances(x, eps):
    xs = x.reshape(x.shape[0], x.shape[1], -1)
    return xs.mean(-1), 1 / torch.sqrt(xs.var(-1, unbiased=False) + eps)


def per_channel(t, x):
    return t.reshape([1, -1] + [1] * (x.dim() - 2))


# ---------------------------------------------------------------- BatchNorm

def batch_cases(entries=None):
    for name, shape, mode, momentum, nbt, affine, track, dtype in entries or [
        ("batch_2d_train", (3, 4, 5, 2), "train", 0.1, None, True, True, np.float64),
        ("batch_1d_train_cumulative", (6, 3), "train", None, 2, True, True, np.float64),
        ("batch_1d_seq_train_momentum_0_3", (4, 3, 7), "train", 0.3, None, True, True, np.float64),
        ("batch_3d_eval", (2, 3, 2, 3, 2), "eval", 0.1, None, True, True, np.float64),
        ("batch_untracked_eval", (3, 4, 3, 3), "eval", 0.1, None, True, False, np.float64),
        ("batch_no_affine_train", (5, 2, 3), "train", 0.1, None, False, True, np.float64),
        ("batch_2d_train_float32", (4, 3, 5, 5), "train", 0.1, None, True, True, np.float32),
    ]:
        eps = 1e-5
        training = mode == "train"
        params = [("--weight", "weight", rand(shape[1])), ("--bias", "bias", rand(shape[1]))] if affine else []
        running = [("--running-mean", "running_mean", rand(shape[1])),
                   ("--running-var", "running_var", torch.rand(shape[1], dtype=torch.float64) + 0.5)] if track else []
        options = ["--mode", mode, "--momentum", "none" if momentum is None else momentum,
                   "--affine", str(affine).lower(), "--track-running-stats", str(track).lower()]
        if nbt is not None:
            options += ["--num-batches-tracked", nbt]

        def forward(x, p, training=training, track=track, momentum=momentum, nbt=nbt, affine=affine):
            rm = p["running_mean"].clone() if track else None
            rv = p["running_var"].clone() if track else None
            factor = momentum if momentum is not None else 1.0 / (nbt + 1)
            use_batch = training or not track
            y = F.batch_norm(x, rm, rv, p.get("weight"), p.get("bias"), use_batch, factor, eps)
            extra = {}
            if training:
                extra["saved_mean"], extra["saved_rstd"] = saved_channels(x.detach(), eps)
                if track:
                    extra["running_mean"], extra["running_var"] = rm, rv
            return y, extra

        run_case(name, "batch", shape, forward, params, options, dtype, extra_inputs=running)


# ---------------------------------------------------------------- InstanceNorm

def instance_cases():
    for name, shape, mode, affine, track in [
        ("instance_2d_default", (2, 3, 4, 5), "train", False, False),
        ("instance_2d_affine_tracked_train", (3, 4, 3, 3), "train", True, True),
        ("instance_2d_tracked_eval", (2, 3, 4, 4), "eval", True, True),
        ("instance_1d_affine", (3, 4, 6), "train", True, False),
        ("instance_3d_untracked_eval", (2, 2, 3, 2, 3), "eval", False, False),
    ]:
        eps, momentum = 1e-5, 0.1
        training = mode == "train"
        params = [("--weight", "weight", rand(shape[1])), ("--bias", "bias", rand(shape[1]))] if affine else []
        running = [("--running-mean", "running_mean", rand(shape[1])),
                   ("--running-var", "running_var", torch.rand(shape[1], dtype=torch.float64) + 0.5)] if track else []
        options = ["--mode", mode, "--affine", str(affine).lower(), "--track-running-stats", str(track).lower()]

        def forward(x, p, training=training, track=track):
            rm = p["running_mean"].clone() if track else None
            rv = p["running_var"].clone() if track else None
            use_input = training or not track
            y = F.instance_norm(x, rm, rv, p.get("weight"), p.get("bias"), use_input, momentum, eps)
            extra = {}
            if training:
                extra["saved_mean"], extra["saved_rstd"] = saved_instances(x.detach(), eps)
                if track:
                    extra["running_mean"], extra["running_var"] = rm, rv
            return y, extra

        run_case(name, "instance", shape, forward, params, options, extra_inputs=running)


# ---------------------------------------------------------------- GroupNorm

def group_cases(entries=None):
    for name, shape, groups, affine, eps, dtype in entries or [
        ("group_2d_g3", (2, 6, 5, 3), 3, True, 1e-5, np.float64),
        ("group_1d_g1", (3, 4, 7), 1, True, 1e-5, np.float64),
        ("group_g_equals_c", (2, 5, 3, 3), 5, True, 1e-3, np.float64),
        ("group_no_affine", (3, 8, 2, 2), 4, False, 1e-5, np.float64),
        ("group_3d_float32", (2, 4, 3, 2, 5), 2, True, 1e-5, np.float32),
    ]:
        c = shape[1]
        params = [("--weight", "weight", rand(c)), ("--bias", "bias", rand(c))] if affine else []
        options = ["--groups", groups, "--eps", eps, "--affine", str(affine).lower()]

        def forward(x, p, groups=groups, eps=eps, c=c):
            y = F.group_norm(x, groups, p.get("weight"), p.get("bias"), eps)
            _, mean, rstd = torch.native_group_norm(x.detach(), None, None, x.shape[0], c,
                                                    x[0, 0].numel(), groups, eps)
            return y, {"saved_mean": mean, "saved_rstd": rstd}

        run_case(name, "group", shape, forward, params, options, dtype)


# ---------------------------------------------------------------- LayerNorm

def layer_cases():
    for name, shape, k, affine in [
        ("layer_default_dims", (3, 4, 5), None, True),
        ("layer_last_dim", (2, 3, 7), 1, True),
        ("layer_no_affine", (4, 6), None, False),
    ]:
        normalized = shape[1:] if k is None else shape[-k:]
        params = [("--weight", "weight", rand(*normalized)), ("--bias", "bias", rand(*normalized))] if affine else []
        options = ["--affine", str(affine).lower()] + ([] if k is None else ["--normalized-dims", k])

        def forward(x, p, normalized=normalized):
            y = F.layer_norm(x, normalized, p.get("weight"), p.get("bias"), 1e-5)
            _, mean, rstd = torch.native_layer_norm(x.detach(), normalized, None, None, 1e-5)
            lead = x.shape[:x.dim() - len(normalized)]
            return y, {"saved_mean": mean.reshape(lead), "saved_rstd": rstd.reshape(lead)}

        run_case(name, "layer", shape, forward, params, options)


# ---------------------------------------------------------------- RMSNorm (PyTorch 2.4's formula)

def rms_cases(entries=None):
    for name, shape, k, eps, dtype in entries or [
        ("rms_last_dim_default_eps", (3, 4, 5), 1, None, np.float64),
        ("rms_two_dims_eps", (2, 3, 6), 2, 1e-6, np.float64),
        ("rms_float32_default_eps", (4, 9), None, None, np.float32),
    ]:
        normalized = shape[1:] if k is None else shape[-k:]
        params = [("--weight", "weight", rand(*normalized))]
        options = ([] if k is None else ["--normalized-dims", k]) + ([] if eps is None else ["--eps", eps])
        e = eps if eps is not None else float(np.finfo(dtype).eps)

        def forward(x, p, normalized=normalized, e=e):
            dims = tuple(range(x.dim() - len(normalized), x.dim()))
            rstd = torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + e)
            y = x * rstd * p["weight"]
            lead = x.shape[:x.dim() - len(normalized)]
            return y, {"saved_rstd": rstd.detach().reshape(lead)}

        run_case(name, "rms", shape, forward, params, options, dtype)


# ---------------------------------------------------------------- WeightNorm

def weight_cases():
    for name, shape, dim, given_g in [
        ("weight_dim0_conv", (4, 3, 2, 2), 0, "keepdim"),
        ("weight_dim1", (3, 5, 2), 1, "vector"),
        ("weight_dim_last", (5, 3), 1, "vector"),
        ("weight_dim_none", (3, 4), None, "vector"),
        ("weight_dim_minus_one_is_whole_tensor", (3, 4), -1, None),
        ("weight_default_g", (4, 6), 0, None),
    ]:
        torch_dim = -1 if dim is None else dim

        def norms(v, torch_dim=torch_dim):
            return torch.norm_except_dim(v, 2, torch_dim)

        case = Case(name)
        case.arg("--norm", "weight", "--dim", "none" if dim is None else dim)
        v = case.input("--input", "v", rand(*shape)).requires_grad_()
        keepdim = norms(v.detach())
        if given_g is None:
            g = keepdim.clone()
        else:
            g0 = rand(*keepdim.shape) if keepdim.dim() > 0 else rand(1).reshape(())
            g = case.input("--g", "g", g0 if given_g == "keepdim" else g0.reshape(-1)).reshape(keepdim.shape)
        g.requires_grad_()
        w = torch._weight_norm(v, g, torch_dim)
        case.expect("output", w)
        dw = case.input("--grad-output", "dw", rand(*shape))
        w.backward(dw)
        case.expect("grad_input", v.grad)
        case.expect("grad_g", g.grad.reshape(-1) if given_g != "keepdim" else g.grad)
        case.close()


# ---------------------------------------------------------------- Batch-Instance (Nam & Kim, 2018)

def batch_instance_cases():
    for name, shape, mode in [
        ("batch_instance_train", (3, 4, 5, 2), "train"),
        ("batch_instance_eval", (2, 3, 4, 3), "eval"),
    ]:
        eps, momentum = 1e-5, 0.1
        training = mode == "train"
        c = shape[1]
        params = [("--rho", "rho", torch.rand(c, dtype=torch.float64)),
                  ("--weight", "weight", rand(c)), ("--bias", "bias", rand(c))]
        running = [("--running-mean", "running_mean", rand(c)),
                   ("--running-var", "running_var", torch.rand(c, dtype=torch.float64) + 0.5)]

        def forward(x, p, training=training):
            rm, rv = p["running_mean"].clone(), p["running_var"].clone()
            bn = F.batch_norm(x, rm, rv, None, None, training, momentum, eps)
            inn = F.instance_norm(x, None, None, None, None, True, 0.0, eps)
            rho = per_channel(p["rho"], x)
            y = (rho * bn + (1 - rho) * inn) * per_channel(p["weight"], x) + per_channel(p["bias"], x)
            extra = {}
            if training:
                extra["saved_mean"], extra["saved_rstd"] = saved_channels(x.detach(), eps)
                extra["saved_instance_mean"], extra["saved_instance_rstd"] = saved_instances(x.detach(), eps)
                extra["running_mean"], extra["running_var"] = rm, rv
            return y, extra

        run_case(name, "batch-instance", shape, forward, params, ["--mode", mode], extra_inputs=running)


# ---------------------------------------------------------------- Switchable (Luo et al., 2018), biased variances

def switchable_cases():
    for name, shape, mode, momentum in [
        ("switchable_train", (3, 4, 5, 2), "train", 0.1),
        ("switchable_eval", (2, 3, 4, 3), "eval", 0.1),
        ("switchable_no_spatial_train", (5, 3), "train", 0.2),
    ]:
        eps = 1e-5
        training = mode == "train"
        c = shape[1]
        params = [("--weight", "weight", rand(c)), ("--bias", "bias", rand(c)),
                  ("--mean-weight", "mean_weight", rand(3)), ("--var-weight", "var_weight", rand(3))]
        running = [("--running-mean", "running_mean", rand(c)),
                   ("--running-var", "running_var", torch.rand(c, dtype=torch.float64) + 0.5)]

        def forward(x, p, training=training, momentum=momentum):
            n = x.shape[0]
            xs = x.reshape(n, c, -1)
            mean_in, var_in = xs.mean(2, keepdim=True), xs.var(2, unbiased=False, keepdim=True)
            mean_ln, var_ln = xs.mean((1, 2), keepdim=True), xs.var((1, 2), unbiased=False, keepdim=True)
            rm, rv = p["running_mean"].clone(), p["running_var"].clone()
            extra = {}
            if training:
                mean_bn, var_bn = xs.mean((0, 2), keepdim=True), xs.var((0, 2), unbiased=False, keepdim=True)
                count = xs.shape[0] * xs.shape[2]
                rm = (1 - momentum) * rm + momentum * mean_bn.detach().reshape(-1)
                rv = (1 - momentum) * rv + momentum * var_bn.detach().reshape(-1) * count / (count - 1)
                extra["running_mean"], extra["running_var"] = rm, rv
            else:
                mean_bn, var_bn = rm.reshape(1, c, 1), rv.reshape(1, c, 1)
            pm = torch.softmax(p["mean_weight"], 0)
            pv = torch.softmax(p["var_weight"], 0)
            mean = pm[0] * mean_in + pm[1] * mean_ln + pm[2] * mean_bn
            var = pv[0] * var_in + pv[1] * var_ln + pv[2] * var_bn
            y = ((xs - mean) / torch.sqrt(var + eps)).reshape(x.shape)
            y = y * per_channel(p["weight"], x) + per_channel(p["bias"], x)
            if training:
                extra["saved_mean"] = mean.detach().reshape(n, c)
                extra["saved_rstd"] = (1 / torch.sqrt(var.detach() + eps)).reshape(n, c)
            return y, extra

        run_case(name, "switchable", shape, forward, params,
                 ["--mode", mode, "--momentum", momentum], extra_inputs=running)


def float16_cases():
    """float16 storage (x, dy and the output and input gradient in float16; the rest float32),
    computed by PyTorch in float64 on the rounded inputs. After the others, with a seed of their own,
    so that adding them changed no other case."""
    torch.manual_seed(20261201)
    batch_cases([("batch_2d_train_float16", (4, 3, 5, 5), "train", 0.1, None, True, True, np.float16)])
    group_cases([("group_2d_float16", (2, 6, 4, 4), 3, True, 1e-5, np.float16)])
    rms_cases([("rms_float16_default_eps", (4, 9), None, None, np.float16)])


def frozen_cases():
    """FrozenBatchNorm by torchvision's FrozenBatchNorm2d formula (scale = w·rsqrt(rv + eps),
    y = x·scale + (b − rm·scale)), the four tensors fixed: the input's gradient only. After the
    others, with a seed of its own."""
    torch.manual_seed(20261202)
    for name, shape, mode, eps, dtype in [
        ("frozen_batch_2d", (3, 4, 5, 2), "train", 1e-5, np.float64),
        ("frozen_batch_1d_eval_eps", (6, 3), "eval", 1e-3, np.float64),
        ("frozen_batch_3d_float32", (2, 3, 2, 3, 2), "train", 1e-5, np.float32),
    ]:
        c = shape[1]
        fixed = [("--weight", "weight", rand(c)), ("--bias", "bias", rand(c)),
                 ("--running-mean", "running_mean", rand(c)),
                 ("--running-var", "running_var", torch.rand(c, dtype=torch.float64) + 0.5)]

        def forward(x, p, eps=eps):
            scale = p["weight"] * (p["running_var"] + eps).rsqrt()
            shift = p["bias"] - p["running_mean"] * scale
            return x * per_channel(scale, x) + per_channel(shift, x), {}

        run_case(name, "frozen-batch", shape, forward, (), ["--mode", mode, "--eps", eps], dtype, extra_inputs=fixed)


def mean_only_cases():
    """Mean-only BatchNorm, hand-written (PyTorch has none): y = x − μ + β, μ the batch's per-channel
    mean in training (running_mean updated with the momentum), the running mean in evaluation;
    autograd gives the gradients. After the others, with a seed of its own."""
    torch.manual_seed(20261203)
    for name, shape, mode, momentum, affine, dtype in [
        ("mean_only_batch_2d_train", (3, 4, 5, 2), "train", 0.1, True, np.float64),
        ("mean_only_batch_1d_eval", (6, 3), "eval", 0.1, True, np.float64),
        ("mean_only_batch_no_affine_momentum_0_3", (4, 3, 7), "train", 0.3, False, np.float64),
        ("mean_only_batch_3d_float32", (2, 3, 2, 3, 2), "train", 0.1, True, np.float32),
    ]:
        c = shape[1]
        training = mode == "train"
        params = [("--bias", "bias", rand(c))] if affine else []
        running = [("--running-mean", "running_mean", rand(c))]
        options = ["--mode", mode, "--momentum", momentum, "--affine", str(affine).lower()]

        def forward(x, p, training=training, momentum=momentum):
            dims = [0] + list(range(2, x.dim()))
            rm = p["running_mean"].clone()
            mean = x.mean(dims) if training else rm
            y = x - per_channel(mean, x)
            if "bias" in p:
                y = y + per_channel(p["bias"], x)
            extra = {}
            if training:
                extra["saved_mean"] = mean.detach()
                extra["running_mean"] = (1 - momentum) * rm + momentum * mean.detach()
            return y, extra

        run_case(name, "mean-only-batch", shape, forward, params, options, dtype, extra_inputs=running)


def ghost_cases():
    """Ghost BatchNorm, hand-written (PyTorch has none): F.batch_norm on each virtual batch of
    consecutive examples in order, the running statistics updated by each; evaluation is BatchNorm's.
    After the others, with a seed of its own."""
    torch.manual_seed(20261204)
    for name, shape, vbs, mode, momentum in [
        ("ghost_batch_2d_uneven", (7, 3, 2, 2), 3, "train", 0.1),
        ("ghost_batch_1d_cumulative", (6, 4), 2, "train", None),
        ("ghost_batch_eval", (5, 3, 4), 2, "eval", 0.1),
    ]:
        c = shape[1]
        params = [("--weight", "weight", rand(c)), ("--bias", "bias", rand(c))]
        running = [("--running-mean", "running_mean", rand(c)),
                   ("--running-var", "running_var", torch.rand(c, dtype=torch.float64) + 0.5)]
        options = ["--mode", mode, "--momentum", "none" if momentum is None else momentum,
                   "--virtual-batch-size", vbs]

        def forward(x, p, vbs=vbs, training=mode == "train", momentum=momentum):
            rm, rv = p["running_mean"].clone(), p["running_var"].clone()
            if not training:
                return F.batch_norm(x, rm, rv, p["weight"], p["bias"], False, 0.0, 1e-5), {}
            ys, means, rstds = [], [], []
            for k, part in enumerate(torch.split(x, vbs)):
                factor = momentum if momentum is not None else 1.0 / (k + 1)
                ys.append(F.batch_norm(part, rm, rv, p["weight"], p["bias"], True, factor, 1e-5))
                m, r = saved_channels(part.detach(), 1e-5)
                means.append(m)
                rstds.append(r)
            return torch.cat(ys), {"saved_mean": torch.stack(means), "saved_rstd": torch.stack(rstds),
                                   "running_mean": rm, "running_var": rv}

        run_case(name, "ghost-batch", shape, forward, params, options, extra_inputs=running)


def renorm_cases():
    """Batch Renormalization, hand-written (PyTorch has none; Ioffe 2017, Algorithm 1): with the batch's
    mean and σ_B = sqrt(biased var + eps) and σ = sqrt(running_var + eps),
    r = clip(σ_B/σ, 1/rmax, rmax) and d = clip((μ_B − running_mean)/σ, −dmax, dmax), detached,
    y = w·(r·(x − μ_B)/σ_B + d) + b; the running statistics updated as BatchNorm's; evaluation is
    BatchNorm's. After the others, with a seed of its own."""
    torch.manual_seed(20261205)
    for name, shape, mode, momentum, rmax, dmax, dtype in [
        ("batch_renorm_2d_clipped", (4, 3, 3, 3), "train", 0.1, 1.5, 0.5, np.float64),
        ("batch_renorm_1d_unclipped_cumulative", (8, 4), "train", None, 100.0, 100.0, np.float64),
        ("batch_renorm_3d_defaults_float32", (2, 3, 2, 3, 2), "train", 0.1, None, None, np.float32),
        ("batch_renorm_eval", (5, 3, 4), "eval", 0.1, 2.0, 1.0, np.float64),
    ]:
        c = shape[1]
        params = [("--weight", "weight", rand(c)), ("--bias", "bias", rand(c))]
        # running statistics far enough from the batch's that the clipping binds in the clipped case
        running = [("--running-mean", "running_mean", 2 * rand(c)),
                   ("--running-var", "running_var", 4 * torch.rand(c, dtype=torch.float64) + 0.1)]
        options = ["--mode", mode, "--momentum", "none" if momentum is None else momentum]
        if rmax is not None:
            options += ["--rmax", rmax, "--dmax", dmax]
        r_max = 3.0 if rmax is None else rmax
        d_max = 5.0 if dmax is None else dmax

        def forward(x, p, training=mode == "train", momentum=momentum, r_max=r_max, d_max=d_max):
            eps = 1e-5
            rm, rv = p["running_mean"].clone(), p["running_var"].clone()
            if not training:
                return F.batch_norm(x, rm, rv, p["weight"], p["bias"], False, 0.0, eps), {}
            dims = [0] + list(range(2, x.dim()))
            mean = x.mean(dims)
            var = x.var(dims, unbiased=False)
            sigma_b = torch.sqrt(var + eps)
            sigma = torch.sqrt(rv + eps)
            r = torch.clamp(sigma_b / sigma, 1 / r_max, r_max).detach()
            d = torch.clamp((mean - rm) / sigma, -d_max, d_max).detach()
            xhat = (x - per_channel(mean, x)) / per_channel(sigma_b, x)
            y = per_channel(p["weight"], x) * (xhat * per_channel(r, x) + per_channel(d, x)) \
                + per_channel(p["bias"], x)
            f = momentum if momentum is not None else 1.0
            n = x.numel() // c
            running_mean = (1 - f) * rm + f * mean.detach()
            running_var = (1 - f) * rv + f * var.detach() * n / (n - 1)
            return y, {"saved_mean": mean.detach(), "saved_rstd": 1 / sigma_b.detach(), "saved_r": r, "saved_d": d,
                       "running_mean": running_mean, "running_var": running_var}

        run_case(name, "batch-renorm", shape, forward, params, options, dtype, extra_inputs=running)


def sync_cases():
    """SyncBatchNorm with --ranks K: F.batch_norm on the whole batch (what K ranks' synchronized
    statistics must give), the parameter gradients being the ranks' added. Batches that K does not
    divide (local batches of unequal sizes), momentum and a cumulative average. After the others, with
    a seed of its own."""
    torch.manual_seed(20261206)
    for name, shape, ranks, mode, momentum, dtype in [
        ("sync_batch_2_ranks_2d", (5, 3, 2, 3), 2, "train", 0.1, np.float64),
        ("sync_batch_3_ranks_1d_cumulative", (7, 4), 3, "train", None, np.float64),
        ("sync_batch_4_ranks_3d_float32", (6, 3, 2, 2, 2), 4, "train", 0.3, np.float32),
        ("sync_batch_4_ranks_eval", (5, 3, 4), 4, "eval", 0.1, np.float64),
    ]:
        c = shape[1]
        params = [("--weight", "weight", rand(c)), ("--bias", "bias", rand(c))]
        running = [("--running-mean", "running_mean", rand(c)),
                   ("--running-var", "running_var", torch.rand(c, dtype=torch.float64) + 0.5)]
        options = ["--mode", mode, "--momentum", "none" if momentum is None else momentum, "--ranks", ranks]

        def forward(x, p, training=mode == "train", momentum=momentum):
            rm, rv = p["running_mean"].clone(), p["running_var"].clone()
            y = F.batch_norm(x, rm, rv, p["weight"], p["bias"], training,
                             1.0 if momentum is None else momentum, 1e-5)
            if not training:
                return y, {}
            mean, rstd = saved_channels(x.detach(), 1e-5)
            return y, {"saved_mean": mean, "saved_rstd": rstd, "running_mean": rm, "running_var": rv}

        run_case(name, "sync-batch", shape, forward, params, options, dtype, extra_inputs=running)


def bfloat16_cases():
    """--storage bfloat16: float32 files rounded to bfloat16, computed with bfloat16 storage; PyTorch
    float64 on the rounded x and dy, the output and input gradient rounded to bfloat16 (written as
    float32, which NumPy has), statistics and parameter gradients in float32. After the others, with
    a seed of their own."""
    torch.manual_seed(20261207)
    eps = 1e-5
    shape = (4, 3, 5, 5)
    params = [("--weight", "weight", rand(3)), ("--bias", "bias", rand(3))]
    running = [("--running-mean", "running_mean", rand(3)),
               ("--running-var", "running_var", torch.rand(3, dtype=torch.float64) + 0.5)]

    def batch(x, p):
        rm, rv = p["running_mean"].clone(), p["running_var"].clone()
        y = F.batch_norm(x, rm, rv, p["weight"], p["bias"], True, 0.1, eps)
        mean, rstd = saved_channels(x.detach(), eps)
        return y, {"saved_mean": mean, "saved_rstd": rstd, "running_mean": rm, "running_var": rv}

    run_case("batch_2d_train_bfloat16", "batch", shape, batch, params, ["--mode", "train"], np.float32,
             extra_inputs=running, storage="bfloat16")

    shape = (2, 6, 4, 4)
    params = [("--weight", "weight", rand(6)), ("--bias", "bias", rand(6))]

    def group(x, p):
        y = F.group_norm(x, 3, p["weight"], p["bias"], eps)
        xs = x.detach().reshape(2, 3, -1)
        return y, {"saved_mean": xs.mean(-1), "saved_rstd": 1 / torch.sqrt(xs.var(-1, unbiased=False) + eps)}

    run_case("group_2d_bfloat16", "group", shape, group, params, ["--groups", 3], np.float32, storage="bfloat16")

    shape = (4, 40)
    params = [("--weight", "weight", rand(40)), ("--bias", "bias", rand(40))]

    def layer(x, p):
        y = F.layer_norm(x, (40,), p["weight"], p["bias"], eps)
        return y, {"saved_mean": x.detach().mean(-1),
                   "saved_rstd": 1 / torch.sqrt(x.detach().var(-1, unbiased=False) + eps)}

    run_case("layer_last_dim_bfloat16", "layer", shape, layer, params, [], np.float32, storage="bfloat16")


if __name__ == "__main__":
    shutil.rmtree(ROOT, ignore_errors=True)
    for make in (batch_cases, instance_cases, group_cases, layer_cases, rms_cases, weight_cases,
                 batch_instance_cases, switchable_cases, float16_cases, frozen_cases, mean_only_cases,
                 ghost_cases, renorm_cases, sync_cases, bfloat16_cases):
        make()
    print("wrote", len(os.listdir(ROOT)), "cases to", os.path.normpath(ROOT))
