"""The ResNet18 training step (forward, backward, SGD momentum step) on one device, native torch
vs torchext, in float32 and under autocast (float16, where the device supports it): median times
per phase and the torchext / native ratios, as JSON on stdout or into a file.

torchext's ops have no autocast kernels, so under autocast they run in the dtype they are given
(float32 here); the JSON records the output dtype of each model so that the ratio is read right.

Usage: python tools/gpu_check/resnet_step.py [--device cuda] [--quick] [--out FILE]"""
import argparse
import copy
import json
import sys

import torch
from torch import nn
from torchvision.models import resnet18

import torchext
from torchext.timing import compare_training_steps


class Autocast(nn.Module):
    """Runs the wrapped model's forward under torch.autocast (backward follows it, as in AMP)."""

    def __init__(self, model, device):
        super().__init__()
        self.model, self.device = model, device

    def forward(self, x):
        with torch.autocast(self.device, dtype=torch.float16):
            return self.model(x)


def step_times(device, batch, size, reps, autocast):
    torch.manual_seed(0)
    native = resnet18(weights=None).to(device)
    ours = torchext.patch(copy.deepcopy(native))
    data = torch.rand(batch, 3, size, size, device=device)
    labels = torch.rand(batch, 1000, device=device)
    setups = {}
    for name, model, make_opt in [("native", native, torch.optim.SGD), ("torchext", ours, torchext.optim.SGD)]:
        run = Autocast(model, device) if autocast else model
        setups[name] = (run, make_opt(model.parameters(), lr=1e-2, momentum=0.9))
    dtypes = {name: str(run(data).dtype) for name, (run, _) in setups.items()}
    times = compare_training_steps(setups, data, labels, reps=reps, warmup=2)
    ratios = {phase: times["torchext"][phase][0] / times["native"][phase][0] for phase in times["native"]}
    return {"input": f"{batch}x3x{size}x{size}", "output_dtype": dtypes, "ms": times, "ratio": ratios}


def autocast_supported(device):
    return device == "cuda" and torch.cuda.is_available()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="a tiny input and few repeats (a dry run)")
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    batch, size, reps = (2, 64, 2) if args.quick else (32, 224, 10)
    results = {"float32": step_times(args.device, batch, size, reps, False)}
    if autocast_supported(args.device):
        results["autocast float16"] = step_times(args.device, batch, size, reps, True)
    text = json.dumps(results, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
