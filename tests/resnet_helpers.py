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
    for (name, a), (_, b) in zip(ours.named_parameters(), native.named_parameters()):
        assert_rel_close(a.detach(), b.detach(), rel, name)
        if grads:
            assert (a.grad is None) == (b.grad is None), name
            if b.grad is not None:
                assert_rel_close(a.grad, b.grad, rel, name + ".grad")
    for (name, a), (_, b) in zip(ours.named_buffers(), native.named_buffers()):
        if a.is_floating_point():
            assert_rel_close(a, b, rel, name)
        else:
            assert torch.equal(a, b), name


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
