"""Trains a patched ResNet18 with Winograd convolution allowed and with direct convolution only,
from the same weights on the same data, and saves both loss curves and their final accuracy
(benchmarks/results/winograd_training.{json,md,png}), so that F(4x4,3x3)'s extra rounding can be
judged where it matters: on training. Native PyTorch trains a third copy: how far its run and
the direct run (both at float32's usual rounding, in different orders) drift apart is the noise
that the Winograd run's difference is judged against.

Data: a synthetic 10-class task (a fixed random 3x32x32 template per class, shifted by up to 4
pixels and with Gaussian noise), learnable but not trivially. Run: python benchmarks/winograd_training.py
"""
import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as NF
from torchvision.models import resnet18

import torchext
from torchext.bench import cpu_description

OUT = Path(__file__).resolve().parent / "results"


def dataset(n, seed):
    g = torch.Generator().manual_seed(seed)
    templates = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 10, (n,), generator=g)
    shifts = torch.randint(-4, 5, (n, 2), generator=g)
    images = torch.stack([templates[c].roll(tuple(s.tolist()), dims=(1, 2)) for c, s in zip(labels, shifts)])
    return images + 1.5 * torch.randn(images.shape, generator=g), labels


def train(initial, data, labels, test, steps, batch, native=False, **flags):
    model = resnet18(weights=None, num_classes=10)
    model.load_state_dict(initial)
    if native:
        opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    else:
        model = torchext.patch(model)
        opt = torchext.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    losses = []
    with torchext.backends.cpu.flags(**flags):
        for step in range(steps):
            i = (step * batch) % len(data)
            x, y = data[i:i + batch], labels[i:i + batch]
            opt.zero_grad()
            loss = NF.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            accuracy = (model(test[0]).argmax(1) == test[1]).float().mean().item()
    return losses, accuracy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    initial = resnet18(weights=None, num_classes=10).state_dict()
    data, labels = dataset(args.steps * args.batch // 4, seed=1)
    test = dataset(512, seed=2)
    runs = {name: train(initial, data, labels, test, args.steps, args.batch, **flags)
            for name, flags in (("winograd", {"allow_winograd": True}), ("direct", {"allow_winograd": False}),
                                ("native", {"native": True}))}
    cpu, isa = cpu_description()
    window = min(20, args.steps)  # moving averages: single-batch losses are noisy
    smooth = {k: torch.tensor(v[0]).unfold(0, window, 1).mean(1) for k, v in runs.items()}
    differences = {f"{a} vs {b}": (smooth[a] - smooth[b]).abs().max().item()
                   for a, b in (("winograd", "direct"), ("native", "direct"), ("winograd", "native"))}
    result = {"cpu": cpu, "isa": isa, "threads": torch.get_num_threads(), "steps": args.steps, "batch": args.batch,
              "loss": {k: v[0] for k, v in runs.items()}, "accuracy": {k: v[1] for k, v in runs.items()},
              "max_smoothed_loss_difference": differences}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "winograd_training.json").write_text(json.dumps(result, indent=1))
    lines = [f"# Training with and without Winograd: {cpu} ({', '.join(isa)}), {result['threads']} threads", "",
             f"Patched ResNet18, synthetic 10-class 3x32x32 task, batch {args.batch}, {args.steps} SGD steps "
             "(lr 0.02, momentum 0.9), same initial weights and batches.", "",
             "| run | first loss | last loss (mean of last 20) | test accuracy |", "|---|---|---|---|"]
    for name, (losses, accuracy) in runs.items():
        lines.append(f"| {name} | {losses[0]:.4f} | {sum(losses[-20:]) / 20:.4f} | {accuracy:.3f} |")
    lines += ["", f"Largest difference between {window}-step moving averages of the loss "
              "(native vs direct: the noise of float32 rounding in another order):", ""]
    lines += [f"- {pair}: {value:.4f}" for pair, value in differences.items()]
    (OUT / "winograd_training.md").write_text("\n".join(lines) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, (losses, _) in runs.items():
        ax.plot(losses, label=name, linewidth=0.8)
    ax.set_xlabel("step"), ax.set_ylabel("cross-entropy loss"), ax.legend()
    ax.set_title(f"ResNet18 on torchext, Winograd on / off, and native ({cpu})", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "winograd_training.png", dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
