"""tools/gpu_check where there is no GPU: `make gpu-check` skips cleanly, and the kernel tour its
sanitizer stages run calls every op (checked here against the ops with CPU kernels)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "gpu_check"))
import kernel_tour  # noqa: E402


def test_skips_without_a_gpu():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gpu_check", "run.py")],
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "skipped: no CUDA device" in out.stdout


def test_kernel_tour_calls_every_op():
    recorder = kernel_tour.Recorder()
    kernel_tour.tour(recorder, "cpu")
    with_kernels = kernel_tour.ops_with_kernels("cpu")
    assert "matmul" in with_kernels and "sgd_step_" in with_kernels  # the registry was read
    assert with_kernels <= recorder.called, with_kernels - recorder.called
