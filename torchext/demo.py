"""`python -m torchext demo`: the tutorial programs on torchext next to native PyTorch, a
ResNet18 training step patched vs native from the same weights, gradcheck of every op, and a
speed comparison. Exit status 1 if any value differs from native or any gradcheck fails."""
import copy
import importlib
import sys
from pathlib import Path

import torch

import torchext
from .check import run_checks
from .timing import compare_training_steps

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def _difference(native, ours):
    """Largest absolute difference for tensors (and dicts of them); equality for anything else."""
    if isinstance(native, dict):
        return max((_difference(native[k], ours[k]) for k in native), default=0.0)
    if isinstance(native, torch.Tensor):
        if native.dtype == torch.bool:
            return 0.0 if torch.equal(native, ours) else float("inf")
        return (native.double() - ours.double()).abs().max().item() if native.numel() else 0.0
    return 0.0 if native == ours else float("inf")


def _show(value):
    if isinstance(value, torch.Tensor):
        return str(value.detach().flatten()[:6].tolist()) + (" ..." if value.numel() > 6 else "")
    return str(value)


def tensor_programs():
    """Programs 2-4, natively and under torchext.enable(); returns the number of mismatches."""
    mismatches = 0
    for module in ("program2_tensor_gradients", "program3_one_layer_network",
                   "program4_repeated_backward"):
        program = _example(module)
        native = program.run()
        with torchext.enable():
            ours = program.run()
        print(f"\n== {module} ==")
        print(f"  {'value':<26} {'native':<40} {'torchext':<40} max |diff|")
        for name in native:
            shown = f"  {name:<26} {_show(native[name])[:40]:<40} {_show(ours[name])[:40]:<40}"
            if name.endswith("grad_fn"):  # names a backward node: ours, not native's
                print(shown, "(our Function)")
                continue
            diff = _difference(native[name], ours[name])
            mismatches += diff > 1e-6
            print(shown, f"{diff:.2e}")
    return mismatches


def resnet18_step():
    """Program 1: one step natively and patched from the same weights, both in float32, each
    measured against a float64 native run (float32 rounding, amplified by batch normalisation of
    few values at batch 1, makes native float32 itself drift from the exact result); returns
    mismatches: rows where ours is further from the float64 result than native float32 is."""
    program = _example("program1_resnet18_step")
    native_model, source = program.build_model()
    patched_model = torchext.patch(copy.deepcopy(native_model))
    reference_model = copy.deepcopy(native_model).double()
    print(f"\n== ResNet18 training step (1x3x64x64), weights: {source} ==")
    native = program.run(native_model, torch.optim.SGD)
    ours = program.run(patched_model, torchext.optim.SGD)
    exact = program.run(reference_model, torch.optim.SGD, dtype=torch.float64)
    print(f"  {'value':<24} {'ours vs native':>15} {'native fp32 err':>16} {'ours fp32 err':>14}")
    mismatches = 0
    for name in ("loss", "prediction", "grads", "weights"):
        diff = _difference(native[name], ours[name])
        native_error = _relative_error(native[name], exact[name])
        our_error = _relative_error(ours[name], exact[name])
        ok = our_error <= max(2 * native_error, 1e-5)
        mismatches += not ok
        print(f"  {name:<24} {diff:>15.2e} {native_error:>16.2e} {our_error:>14.2e}  {'ok' if ok else 'MISMATCH'}")
    print("  (errors: largest normwise relative error against native float64, per tensor)")
    print(f"  loss: native {native['loss'].item():.6f}  torchext {ours['loss'].item():.6f}  "
          f"float64 {exact['loss'].item():.6f}")
    return mismatches


def _relative_error(value, exact):
    if isinstance(value, dict):
        return max(_relative_error(value[k], exact[k]) for k in value)
    reference = exact.double().norm().item()
    return (value.double() - exact.double()).norm().item() / max(reference, 1e-30)


def speed(batches=(1, 8)):
    """Median time of the step's phases, native vs torchext, at 64x64."""
    program = _example("program1_resnet18_step")
    print(f"\n== Speed: ResNet18 step at 64x64, {torch.get_num_threads()} threads, median ms (ratio torchext/native) ==")
    print(f"  {'batch':>5} {'phase':<9} {'native':>9} {'torchext':>9} {'ratio':>6}")
    for batch in batches:
        model, _ = program.build_model()
        patched = torchext.patch(copy.deepcopy(model))
        data = torch.rand(batch, 3, 64, 64)
        labels = torch.rand(batch, 1000)
        runs = compare_training_steps(
            {"native": (model, torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)),
             "torchext": (patched, torchext.optim.SGD(patched.parameters(), lr=1e-2, momentum=0.9))},
            data, labels)
        native, ours = runs["native"], runs["torchext"]
        for phase in ("forward", "backward", "step", "total"):
            n, o = native[phase][0], ours[phase][0]
            print(f"  {batch:>5} {phase:<9} {n:>9.2f} {o:>9.2f} {o / n:>6.2f}")


def main():
    print(f"torchext demo: torch {torch.__version__}, {torch.get_num_threads()} threads")
    mismatches = tensor_programs()
    mismatches += resnet18_step()
    print("\n== gradcheck of every op (float64) ==")
    failures = run_checks()
    speed()
    print(f"\ndemo: {'all values equal native' if not mismatches else f'{mismatches} MISMATCHES'}, "
          f"{'all gradchecks passed' if not failures else f'{failures} gradchecks FAILED'}")
    return 1 if mismatches or failures else 0
