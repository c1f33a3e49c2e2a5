"""Shared by the model tests: ResNet18 twins (native and patched from the same weights), the
tutorial's training step, tolerant comparisons, and the DDP worker (importable by spawned
processes)."""
import copy
import os

import torch
import torchvision

import torchext
from torchext import functional as F

# Normwise relative tolerance for a whole tensor, by dtype: |ours - native| <= REL * |native|.
REL = {torch.float32: 1e-4, torch.float64: 1e-10}
# float32 results are judged against a float64 run of the native model (the truth): ours must be
# within REL[float32] of it, or no further from it than FACTOR times native float32 is. Some
# float32 results are ill-conditioned (a BatchNorm weight gradient that cancels, BN over 2
# values per channel): there native float32 itself is off by 1e-2 and more.
FACTOR = 4.0


def resnet18(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return torchvision.models.resnet18(weights=None).to(dtype)


def twins(seed=0, dtype=torch.float32):
    """(native, patched) ResNet18s with identical weights and buffers."""
    native = resnet18(seed, dtype)
    return native, torchext.patch(copy.deepcopy(native))


def batch(n, size=64, seed=1, dtype=torch.float32, classes=1000):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, size, size, generator=g).to(dtype),
            torch.rand(n, classes, generator=g).to(dtype))


def native_loss(prediction, labels):
    return (prediction - labels).sum()


def torchext_loss(prediction, labels):
    """The tutorial's loss on torchext kernels."""
    return F.sum(F.sub(prediction, labels))


def assert_rel_close(ours, native, rel, name=""):
    """Normwise relative error of a whole tensor (robust to entries that cancel to ~0)."""
    assert ours.shape == native.shape and ours.dtype == native.dtype, name
    err = (ours.double() - native.double()).norm().item()
    ref = native.double().norm().item()
    assert err <= rel * ref + 1e-30, f"{name}: relative error {err / max(ref, 1e-300):.3g} > {rel:g}"


def assert_models_close(ours, native, rel, grads=True):
    """Every parameter (and its gradient) and every buffer."""
    for name, a, b in model_tensors(ours, native, grads=grads):
        if a.is_floating_point():
            assert_rel_close(a, b, rel, name)
        else:
            assert torch.equal(a, b), name


def model_tensors(*models, grads=True):
    """(name, tensor of each model) for every parameter, gradient (when grads) and buffer."""
    named = [dict(m.named_parameters()) for m in models]
    for name in named[0]:
        yield (name, *(n[name].detach() for n in named))
        if grads:
            have = [n[name].grad is not None for n in named]
            assert all(have) or not any(have), f"{name}.grad exists in some models only"
            if have[0]:
                yield (name + ".grad", *(n[name].grad for n in named))
    buffers = [dict(m.named_buffers()) for m in models]
    for name in buffers[0]:
        yield (name, *(b[name] for b in buffers))


def assert_accurate(ours, native, truth, name=""):
    """ours and native computed in float32, truth by native in float64 (see FACTOR)."""
    assert ours.shape == native.shape == truth.shape and ours.dtype == native.dtype, name
    ref = truth.double()
    err_ours = (ours.double() - ref).norm().item()
    err_native = (native.double() - ref).norm().item()
    bound = max(REL[torch.float32] * ref.norm().item(), FACTOR * err_native)
    assert err_ours <= bound + 1e-30, (f"{name}: |ours - float64| = {err_ours:.3g} > {bound:.3g} "
                                       f"(|native float32 - float64| = {err_native:.3g})")


class Trio:
    """The same model three ways: patched (ours), native, and (float32 only) native in float64
    as the truth. Compares ours with native directly in float64, through the truth in float32."""

    def __init__(self, native, dtype=torch.float32):
        self.dtype = dtype
        self.native = native.to(dtype)
        self.ours = torchext.patch(copy.deepcopy(self.native))
        self.truth = copy.deepcopy(self.native).double() if dtype == torch.float32 else None

    def runs(self):
        """(model, input dtype, loss function) for each model."""
        yield self.ours, self.dtype, torchext_loss
        yield self.native, self.dtype, native_loss
        if self.truth is not None:
            yield self.truth, torch.float64, native_loss

    def models(self):
        return [m for m, _, _ in self.runs()]

    def check(self, results, name):
        """results: one tensor per model, in runs() order."""
        if self.truth is None:
            assert_rel_close(results[0], results[1], REL[self.dtype], name)
        else:
            assert_accurate(*results, name)

    def check_models(self, grads=True):
        for name, *tensors in model_tensors(*self.models(), grads=grads):
            if tensors[0].is_floating_point():
                self.check(tensors, name)
            else:
                assert all(torch.equal(tensors[0], t) for t in tensors), name


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp_worker(rank, world_size, port, state, data, labels, out_dir):
    """One DDP process: the patched model (eval-mode BN, see test_ddp_averages_gradients) on its
    shard of the batch; saves the averaged gradients."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        model = torchvision.models.resnet18(weights=None).to(data.dtype)
        model.load_state_dict(state)
        model = torchext.patch(model).eval()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        shard = data.shape[0] // world_size
        rows = slice(rank * shard, (rank + 1) * shard)
        torchext_loss(ddp(data[rows]), labels[rows]).backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        torch.save(grads, os.path.join(out_dir, f"grads{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()
