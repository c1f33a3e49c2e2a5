"""Calls every torchext op once, small shapes, on one device: the workload compute-sanitizer
(memcheck, racecheck, synccheck) watches in `make gpu-check`. The shapes still take the kernels'
less common paths (split-K matmul, split reductions, strided and broadcast operands, channels_last
batch norm, half precision GEMM). It fails if an op with a kernel for the device's dispatch key is
left out, so a new op cannot slip past the sanitizers.

Usage: python tools/gpu_check/kernel_tour.py [cuda|cpu]  (cpu: the CPU kernels, as a dry run)"""
import sys

import torch

import torchext


class Recorder:
    """torch.ops.torchext, noting which ops were called."""

    def __init__(self):
        self.called = set()

    def __getattr__(self, name):
        self.called.add(name)
        return getattr(torchext.ops, name)


def tour(E, device):
    kw = dict(device=device)
    for dt in (torch.float32,) + ((torch.float16,) if device == "cuda" else ()):
        x = torch.randn(300, dtype=dt, **kw)
        E.relu(x)
        E.relu_(x.clone())
        E.relu_backward(x, E.relu(x))
        E.add_relu(x, x)
        xs = (x.reshape(12, 25) * 4, (x.reshape(12, 25) * 4).t())  # flat, and strided (transposed)
        for t in xs:
            g = torch.randn_like(t)
            for name, args in (("sigmoid", ()), ("silu", ()), ("hardtanh", (-1.0, 2.0)), ("hardswish", ()),
                               ("hardsigmoid", ()), ("gelu", ("none",)), ("gelu", ("tanh",))):
                getattr(E, name)(t, *args)
                getattr(E, f"{name}_backward")(g, t.t().contiguous().t() if t.is_contiguous() else t, *args)
                if name not in ("hardtanh", "hardsigmoid"):
                    getattr(E, f"{name}_double_backward")(g, g, t, *args)
            E.sigmoid_(t.clone())
            E.hardtanh_(t.clone(), 0.0, 6.0)
            for name in ("silu_", "hardswish_", "hardsigmoid_"):
                getattr(E, name)(t.clone(), True)
                getattr(E, name)(t.clone(), False)
        a, b = torch.randn(5, 1, 4, dtype=dt, **kw), torch.randn(3, 1, dtype=dt, **kw)
        E.add(a, b, alpha=2)
        E.sub(a.transpose(0, 2), torch.randn(5, dtype=dt, **kw))  # strided self, broadcast other
        E.mul(a, b)
        E.add_scalar(a, 3, alpha=2)
        E.rsub_scalar(a, 3)
        E.mul_scalar(a, 1.5)
        E.pow_scalar(a.abs(), 1.5)
        E.pow_scalar(a, 2)
        m = torch.randn(40, 3000, dtype=dt, **kw)
        E.sum(m)                       # split reduction
        E.sum(m, [0])                  # column mode
        E.sum(m.t(), [0], True)        # strided
        E.matmul(torch.randn(20, 700, dtype=dt, **kw), torch.randn(700, 9, dtype=dt, **kw))  # split-K
        E.matmul(torch.randn(3, 33, 17, dtype=dt, **kw), torch.randn(65, 17, dtype=dt, **kw).t())  # batched, transposed
        inp, tgt = torch.randn(6, 5, dtype=dt, **kw), torch.rand(6, 5, dtype=dt, **kw)
        w, pw = torch.rand(5, dtype=dt, **kw), torch.rand(5, dtype=dt, **kw) + 0.5
        loss = E.binary_cross_entropy_with_logits(inp, tgt, w, pw, 1)
        E.binary_cross_entropy_with_logits_backward(torch.ones_like(loss), inp, tgt, w, pw, 1, [True, True])
        xc, wc, bc = torch.randn(2, 3, 9, 9, dtype=dt, **kw), torch.randn(4, 3, 3, 3, dtype=dt, **kw), torch.randn(4, dtype=dt, **kw)
        y = E.conv2d(xc, wc, bc, [2, 2], [1, 1, 1, 1], [1, 1], 1)
        E.conv2d_backward(torch.randn_like(y), xc, wc, [2, 2], [1, 1, 1, 1], [1, 1], 1, [True, True, True])
        wd = torch.randn(6, 1, 3, 3, dtype=dt, **kw)  # depthwise, multiplier 2 (depthwise_conv2d.cu)
        y = E.conv2d(xc, wd, None, [2, 2], [1, 1, 1, 1], [1, 1], 3)
        E.conv2d_backward(torch.randn_like(y), xc, wd, [2, 2], [1, 1, 1, 1], [1, 1], 3, [True, True, False])
        xl, wl, bl = torch.randn(9, 20, dtype=dt, **kw), torch.randn(7, 20, dtype=dt, **kw), torch.randn(7, dtype=dt, **kw)
        y = E.linear(xl, wl, bl)
        E.linear_backward(torch.randn_like(y), xl, wl, [True, True, True])
        for xb in (torch.randn(4, 3, 5, 5, dtype=dt, **kw),
                   torch.randn(4, 3, 5, 5, dtype=dt, **kw).contiguous(memory_format=torch.channels_last),
                   torch.randn(600, 3, dtype=dt, **kw)):
            # float32 parameters and statistics for every input dtype, as autocast leaves them
            w32, b32 = torch.rand(3, **kw) + 0.5, torch.randn(3, **kw)
            rm, rv = torch.zeros(3, **kw), torch.ones(3, **kw)
            y, sm, si = E.batch_norm(xb, w32, b32, rm, rv, True, 0.1, 1e-5)
            E.batch_norm_backward(torch.randn_like(y), xb, w32, rm, rv, sm, si, True, 1e-5, [True, True, True])
            E.batch_norm(xb, w32, b32, rm, rv, False, 0.1, 1e-5)
            y, sm, si = E.batch_norm_relu(xb, torch.randn_like(xb), w32, b32, rm, rv, True, 0.1, 1e-5)
            E.batch_norm_relu_backward(torch.randn_like(y), y, xb, w32, rm, rv, sm, si, True, 1e-5,
                                       [True, True, True, True])
            E.batch_norm_relu(xb, None, w32, b32, rm, rv, False, 0.1, 1e-5)
        for xn, shape in ((torch.randn(6, 7, 96, dtype=dt, **kw), [96]), (torch.randn(3, 700, dtype=dt, **kw), [700])):
            y, mean, rstd = E.layer_norm(xn, shape, torch.randn(shape, dtype=dt, **kw), None, 1e-5)
            E.layer_norm_backward(torch.randn_like(y), xn, shape, mean, rstd, torch.randn(shape, dtype=dt, **kw),
                                  [True, True, True])
        state = torch.cuda.get_rng_state() if device == "cuda" else torch.get_rng_state()
        xd = torch.randn(5, 3, 4, 4, dtype=dt, **kw).contiguous(memory_format=torch.channels_last)
        y, mask, _ = E.dropout(xd, 0.3, state)
        E.dropout_backward(torch.randn_like(y), mask, 0.3)
        E.dropout_(xd.clone(), 0.3, state)
        E.dropout_(xd.clone()[::2], 0.3, state)  # not dense: computed densely, copied back
        y, mask, _ = E.stochastic_depth(xd, 0.3, True, state)
        E.dropout_backward(torch.randn_like(y), mask, 0.3)
        xp = torch.randn(2, 3, 9, 9, dtype=dt, **kw)
        y, idx = E.max_pool2d(xp, [3, 3], [2, 2], [1, 1], [1, 1], False)
        E.max_pool2d_backward(torch.randn_like(y), xp, idx)
        E.max_pool2d_double_backward(torch.randn_like(xp), idx)
        y = E.adaptive_avg_pool2d(xp, [2, 3])
        E.adaptive_avg_pool2d_backward(torch.randn_like(y), xp)
        # structural ops (issue 14)
        E.cat([xp, xp.contiguous(memory_format=torch.channels_last)[:, :2]], 1)  # mixed layouts
        E.cat([xp.contiguous(memory_format=torch.channels_last)] * 2, 1)        # channels_last
        y = E.avg_pool2d(xp, [3, 3], [1, 1], [1, 1], True, False, None)
        E.avg_pool2d_backward(torch.randn_like(y), xp, [3, 3], [1, 1], [1, 1], True, False, None)
        E.mean(m, [1])
        E.div(a, b)
        E.div_scalar(a, 3)
        E.rdiv_scalar(a, 3)
        y = E.pow(a.abs(), b)
        E.pow_backward(torch.randn_like(y), a.abs(), b, y, [True, True])
        # softmax (rows and columns) and the fused attention (masks, causal, GQA, strided key)
        for xs, dim in ((torch.randn(7, 300, dtype=dt, **kw), 1), (torch.randn(3, 5, 70, dtype=dt, **kw), 1)):
            for name in ("softmax", "log_softmax"):
                y = getattr(E, name)(xs, dim, None)
                getattr(E, f"{name}_backward")(torch.randn_like(y), y, dim, dt)
        q = torch.randn(2, 4, 70, 64, dtype=dt, **kw)
        kv = torch.randn(2, 2, 90, 64, dtype=dt, **kw)
        masks = (None, torch.rand(70, 90, **kw) > 0.3, torch.randn(1, 4, 70, 90, dtype=dt, **kw))
        for mask, causal in [(m, False) for m in masks] + [(None, True)]:
            y, lse = E.scaled_dot_product_attention(q, kv.transpose(-1, -2).contiguous().transpose(-1, -2), kv,
                                                    mask, causal, None, True)
            E.scaled_dot_product_attention_backward(torch.randn_like(y), q, kv, kv, mask, y, lse, causal, None,
                                                    True, mask is not None and mask.is_floating_point())
        ps = [torch.randn(s, dtype=dt, **kw) for s in [(3, 4), (20000,), (5,)]]
        gs = [torch.randn_like(p) for p in ps]
        bufs = [torch.empty_like(p) for p in ps]
        E.sgd_step_(ps, gs, bufs, 0.01, 0.9, 0.0, 1e-4, True, False, True)
        E.sgd_step_(ps, gs, bufs, 0.01, 0.9, 0.1, 0.0, False, True, False)
        E.sgd_step_(ps, gs, [], 0.01, 0.0, 0.0, 0.0, False, False, False)
    if device == "cuda":
        torch.cuda.synchronize()


def ops_with_kernels(device):
    key = "CUDA" if device == "cuda" else "CPU"
    names = torch._C._dispatch_get_registrations_for_dispatch_key(key)
    return {n.split("::", 1)[1] for n in names if n.startswith("torchext::")}


def main(device="cuda"):
    E = Recorder()
    tour(E, device)
    missing = ops_with_kernels(device) - E.called
    print(f"kernel tour on {device}: {len(E.called)} ops called")
    if missing:
        print("ops with a kernel the tour does not call:", ", ".join(sorted(missing)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
