"""GEMM throughput of torchext.matmul against torch.mm, float32: square sizes and the GEMM shapes
of ResNet18's convolutions, plus transposed operands (as in backward passes). Each case is timed
with torch.utils.benchmark (median), ours and native interleaved round by round so that load from
other processes hits both alike. Writes benchmarks/results/gemm.json and gemm.md, stamped with
the machine.

    PYTHONPATH=. python benchmarks/bench_gemm.py [--threads 2] [--rounds 3] [--min-run-time 0.4]
"""
import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.utils.benchmark as benchmark

import torchext
from torchext.bench import machine
from torchext.timing import summarize

# (name, M, N, K, transposed operand)
CASES = [
    ("256^3", 256, 256, 256, None),
    ("1024^3", 1024, 1024, 1024, None),
    ("2048^3", 2048, 2048, 2048, None),
    ("conv layer4 (weight x columns)", 512, 32, 4608, None),
    ("conv layer1 (weight x columns)", 64, 8192, 576, None),
    ("1024^3, A transposed", 1024, 1024, 1024, "A"),
    ("1024^3, B transposed", 1024, 1024, 1024, "B"),
]


def _operands(m, n, k, transposed):
    a = torch.randn(k, m).t() if transposed == "A" else torch.randn(m, k)
    b = torch.randn(n, k).t() if transposed == "B" else torch.randn(k, n)
    return a, b


def _times(fn, min_run_time):
    # num_threads: Timer would otherwise run the statement on one thread.
    return benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()
                           ).blocked_autorange(min_run_time=min_run_time).times


def run(rounds, min_run_time):
    cases = []
    for name, m, n, k, transposed in CASES:
        a, b = _operands(m, n, k, transposed)
        torch.testing.assert_close(torchext.ops.matmul(a, b), torch.mm(a, b), rtol=1e-4, atol=1e-3)
        cases.append({"name": name, "shape": [m, n, k], "transposed": transposed,
                      "fns": {"native": lambda a=a, b=b: torch.mm(a, b),
                              "torchext": lambda a=a, b=b: torchext.ops.matmul(a, b)},
                      "times": {"native": [], "torchext": []}})
    for r in range(rounds):
        for case in cases:
            order = ("native", "torchext") if r % 2 == 0 else ("torchext", "native")
            for label in order:
                case["times"][label] += _times(case["fns"][label], min_run_time)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    results = []
    for case in cases:
        m, n, k = case["shape"]
        flops = 2.0 * m * n * k
        row = {"name": case["name"], "M": m, "N": n, "K": k, "transposed": case["transposed"]}
        for label, times in case["times"].items():
            median, q1, q3 = summarize(times)
            row[label] = {"median_ms": median * 1e3, "q1_ms": q1 * 1e3, "q3_ms": q3 * 1e3,
                          "gflops": flops / median / 1e9, "runs": len(times)}
        row["ratio"] = row["torchext"]["gflops"] / row["native"]["gflops"]
        results.append(row)
    return results


def load_average():
    """The 1-minute load average (other processes competing for the cores), where known."""
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except OSError:
        return None


def write(results, stamp, out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gemm.json").write_text(json.dumps({"machine": stamp, "cases": results}, indent=1) + "\n")
    lines = ["# GEMM, float32: torchext.matmul vs torch.mm", "",
             f"{stamp['cpu']}, {stamp['threads']} threads, torch {stamp['torch']}, {stamp['date']}; "
             f"1-minute load average {stamp['load_before']} before and {stamp['load_after']} after "
             f"the run ({os.cpu_count()} cores).",
             "Median of all timed runs (torch.utils.benchmark), ours and native interleaved; "
             "ratio = torchext GFLOP/s / torch.mm GFLOP/s.", "",
             "| case | M x N x K | torch.mm GFLOP/s | torchext GFLOP/s | ratio | torch.mm ms (IQR) | torchext ms (IQR) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        n, o = r["native"], r["torchext"]
        lines.append(f"| {r['name']} | {r['M']} x {r['N']} x {r['K']} | {n['gflops']:.1f} | {o['gflops']:.1f} | "
                     f"{r['ratio']:.2f} | {n['median_ms']:.3f} ({n['q1_ms']:.3f}-{n['q3_ms']:.3f}) | "
                     f"{o['median_ms']:.3f} ({o['q1_ms']:.3f}-{o['q3_ms']:.3f}) |")
    (out / "gemm.md").write_text("\n".join(lines) + "\n")
    return out / "gemm.md"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-run-time", type=float, default=0.4)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    stamp = {**machine(), "load_before": load_average()}
    results = run(args.rounds, args.min_run_time)
    stamp["load_after"] = load_average()
    print(write(results, stamp, args.out).read_text())


if __name__ == "__main__":
    main()
