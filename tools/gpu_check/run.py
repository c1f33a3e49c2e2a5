"""`make gpu-check`: the checks of the CUDA kernels that need a GPU, in one run sized for a lent
machine (about 10 minutes in all; GPU_CHECK_BUDGET seconds, default 600, shared by the stages,
each with its own time limit too):

  build      the extension for this device's architecture against this torch (TORCHEXT_CUDA=1)
  tests      the device-parametrized tests in tests/ on CUDA
  memcheck, racecheck, synccheck
             compute-sanitizer over a tour of every kernel (kernel_tour.py)
  parity     float64/float32/float16/bfloat16 parity with native CUDA torch and SGD bit-equality
             with torch.optim.SGD(foreach=False) (parity.py)
  resnet18   the training step, float32 and autocast, against native (resnet_step.py)

It writes benchmarks/results/bench_cuda.{json,md}, naming the device, with every stage's outcome
and the ResNet18 times, and prints a summary. Without a CUDA device it exits 0 saying it skipped.
`--dry-run` runs the Python stages on the CPU instead (kernel tour, a tiny ResNet18 step) and
writes the report to a temporary folder: a check of this script where there is no GPU."""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import torch
except ImportError:  # reported by main()
    torch = None

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


class Stages:
    """Runs commands as stages within the shared budget, keeping each one's outcome."""

    def __init__(self, budget):
        self.deadline = time.monotonic() + budget
        self.results = []

    def run(self, name, argv, limit, env=None):
        left = self.deadline - time.monotonic()
        if left < 10:
            return self.skip(name, "the time budget is spent")
        limit = min(limit, left)
        print(f"== {name} (at most {limit:.0f} s): {' '.join(map(str, argv))}", flush=True)
        start = time.monotonic()
        try:
            # The scripts under tools/ import this checkout's torchext, not an installed one.
            path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
            out = subprocess.run([str(a) for a in argv], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": path, **(env or {})},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=limit)
            status = "passed" if out.returncode == 0 else f"failed (exit {out.returncode})"
            output = out.stdout
        except subprocess.TimeoutExpired as e:
            status = f"failed (timed out after {limit:.0f} s)"
            output = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        print(output[-4000:], flush=True)
        self.results.append({"stage": name, "status": status, "seconds": round(time.monotonic() - start, 1),
                             "tail": output[-1500:]})
        return status == "passed"

    def skip(self, name, why):
        print(f"== {name}: skipped: {why}", flush=True)
        self.results.append({"stage": name, "status": f"skipped: {why}", "seconds": 0, "tail": ""})
        return False


def find_sanitizer():
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    candidate = Path(home) / "bin" / "compute-sanitizer"
    return str(candidate) if candidate.exists() else shutil.which("compute-sanitizer")


def importable(module):
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def gpu_stages(stages, resnet_json):
    py = sys.executable
    major, minor = torch.cuda.get_device_capability()
    built = stages.run("build", [py, "setup.py", "-q", "build_ext", "--inplace"], 300, env={
        "TORCHEXT_CUDA": "1", "TORCH_CUDA_ARCH_LIST": f"{major}.{minor}", "MAX_JOBS": str(os.cpu_count() or 4)})
    if not built:
        return
    if importable("pytest"):
        stages.run("tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                             "-k", "cuda and not emulator"], 150)
    else:
        stages.skip("tests", "pytest is not installed for this python")
    sanitizer = find_sanitizer()
    for tool, limit in (("memcheck", 60), ("racecheck", 120), ("synccheck", 60)):
        if sanitizer is None:
            stages.skip(tool, "compute-sanitizer not found (CUDA_HOME/bin or PATH)")
            continue
        # Only torchext's kernels are instrumented: torch's own are not ours to check, and slow.
        stages.run(tool, [sanitizer, "--tool", tool, "--error-exitcode", "1", "--kernel-name", "kns=torchext",
                          py, HERE / "kernel_tour.py", "cuda"], limit)
    stages.run("parity", [py, HERE / "parity.py"], 120)
    if importable("torchvision"):
        stages.run("resnet18", [py, HERE / "resnet_step.py", "--out", resnet_json], 180)
    else:
        stages.skip("resnet18", "torchvision is not installed for this python")


def dry_run_stages(stages, resnet_json):
    py = sys.executable
    stages.run("kernel tour (cpu)", [py, HERE / "kernel_tour.py", "cpu"], 120)
    stages.run("parity (import)", [py, "-c", "import sys; sys.path.insert(0, 'tools/gpu_check'); import parity"], 60)
    stages.run("resnet18 (cpu, tiny)", [py, HERE / "resnet_step.py", "--device", "cpu", "--quick",
                                        "--out", resnet_json], 300)


def device_info(dry_run):
    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    if dry_run:
        info["device"] = "cpu (dry run)"
    else:
        info["device"] = torch.cuda.get_device_name()
        info["capability"] = "%d.%d" % torch.cuda.get_device_capability()
    return info


def write_report(out_dir, info, stage_results, resnet):
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"machine": info, "stages": stage_results, "resnet18": resnet}
    (out_dir / "bench_cuda.json").write_text(json.dumps(report, indent=1))
    lines = [f"# torchext CUDA check: {info['device']}"
             + (f" (sm_{info['capability'].replace('.', '')})" if "capability" in info else "")
             + f", torch {info['torch']}, CUDA {info['cuda']}, {info['date']}", "",
             "| stage | outcome | seconds |", "|---|---|---|"]
    lines += [f"| {r['stage']} | {r['status']} | {r['seconds']} |" for r in stage_results]
    if resnet:
        lines += ["", "## ResNet18 training step, median ms (interquartile range); ratio = torchext / native", "",
                  "| precision | input | phase | native | torchext | ratio |", "|---|---|---|---|---|---|"]
        for precision, row in resnet.items():
            for phase, ratio in row["ratio"].items():
                n, o = row["ms"]["native"][phase], row["ms"]["torchext"][phase]
                lines.append(f"| {precision} | {row['input']} | {phase} | {n[0]:.2f} ({n[1]:.2f}-{n[2]:.2f}) | "
                             f"{o[0]:.2f} ({o[1]:.2f}-{o[2]:.2f}) | {ratio:.2f} |")
            lines.append(f"| {precision} | | output dtype | {row['output_dtype']['native']} | "
                         f"{row['output_dtype']['torchext']} | |")
    (out_dir / "bench_cuda.md").write_text("\n".join(lines) + "\n")
    return out_dir / "bench_cuda.md"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the Python stages on the CPU, report to a temp dir")
    args = parser.parse_args(argv)
    if torch is None:
        # A machine with a GPU driver but no torch for this python is a setup error, not a skip.
        gpu = shutil.which("nvidia-smi") is not None
        print(f"gpu-check: {'failed' if gpu else 'skipped'}: no torch for {sys.executable} "
              "(GPU_PYTHON=... names another python)")
        return 1 if gpu else 0
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu-check: skipped: no CUDA device is visible to torch here (nothing to check)")
        return 0
    stages = Stages(float(os.environ.get("GPU_CHECK_BUDGET", 600)))
    with tempfile.TemporaryDirectory() as tmp:
        resnet_json = Path(tmp) / "resnet18.json"
        (dry_run_stages if args.dry_run else gpu_stages)(stages, resnet_json)
        resnet = json.loads(resnet_json.read_text()) if resnet_json.exists() else None
        out_dir = Path(tmp) / "results" if args.dry_run else ROOT / "benchmarks" / "results"
        report = write_report(out_dir, device_info(args.dry_run), stages.results, resnet)
        print("\n== summary\n" + report.read_text())
    failed = [r["stage"] for r in stages.results if r["status"].startswith("failed")]
    print("gpu-check:", f"{len(failed)} stage(s) failed: {', '.join(failed)}" if failed else "every stage that ran passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
