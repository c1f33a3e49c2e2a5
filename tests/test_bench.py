"""The benchmark machinery (python -m torchext bench): timings come back in the documented shape,
results files are written and re-rendered, peak memory is measured. Speed itself is never
asserted: the machines are shared and noisy."""
import json

import pytest
import torch
from torch import nn

import torchext
from torchext import bench
from torchext import functional as F
from torchext.timing import compare_training_steps


def _check_stats(stats):
    median, q1, q3 = stats
    assert 0 < q1 <= median <= q3


def test_compare_training_steps_times_every_phase_of_every_setup():
    torch.manual_seed(0)
    native = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    ours = torchext.patch(nn.Sequential(*[m for m in native]))
    data, labels = torch.rand(2, 3, 8, 8), torch.rand(2, 5)
    runs = compare_training_steps(
        {"native": (native, torch.optim.SGD(native.parameters(), lr=0.1, momentum=0.9)),
         "torchext": (ours, torchext.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9))},
        data, labels, reps=3, warmup=1)
    assert set(runs) == {"native", "torchext"}
    for phases in runs.values():
        assert set(phases) == {"forward", "backward", "step", "total"}
        for stats in phases.values():
            _check_stats(stats)


def test_time_op_measures_forward_and_backward_of_both():
    result = bench.time_op(torch.relu, F.relu, lambda: (torch.randn(4, 5, requires_grad=True),), 0.03)
    for label in ("native", "torchext"):
        _check_stats(result[label]["forward"])
        _check_stats(result[label]["forward+backward"])


def test_model_step_times_a_torchvision_model():
    runs = bench.model_step(2, 32, reps=2, compile_native=False, name="mobilenet_v3_small")
    assert set(runs) == {"native", "torchext"}
    for phases in runs.values():
        for stats in phases.values():
            _check_stats(stats)


def test_cnn_op_cases_compute_the_same_on_both_sides():
    cases = bench.cnn_op_cases(batch=1)
    assert len({name for name, *_ in cases}) == len(cases)
    for name, native, ours, make in cases:
        inputs = make()
        torch.manual_seed(0)  # dropout and stochastic depth draw native's masks
        expected = native(*inputs)
        torch.manual_seed(0)
        torch.testing.assert_close(ours(*inputs), expected, rtol=1e-4, atol=1e-5, msg=name)


def test_conv_layers_count_flops():
    layers = bench.resnet18_conv_layers(batch=2, size=32)
    names = [name for name, *_ in layers]
    assert len(names) == len(set(names)) == 11  # every distinct convolution of ResNet18
    stem = next(layer for layer in layers if layer[0].startswith("conv2d 7x7/2"))
    assert stem[4] == 2 * 2 * 64 * 3 * 7 * 7 * 16 * 16
    # As in a training step, only the stem's input (the images) needs no gradient.
    assert [layer[3]()[0].requires_grad for layer in layers] == [layer is not stem for layer in layers]


def test_fma_peak_is_measured():
    assert bench.fma_peak_gflops(0.01) > 0


def test_layer_cases_cover_every_resnet18_op():
    names = [name for name, *_ in bench.resnet18_layer_cases(batch=2, size=32)]
    for op in ("conv2d 7x7/2", "batch_norm train", "max_pool2d", "add+relu", "adaptive_avg_pool2d",
               "linear 512->1000", "relu", "batch_norm+add+relu"):
        assert any(name.startswith(op) for name in names), op
    assert len(names) == len(set(names))


def _fake_results():
    stats = (2.0, 1.5, 2.5)
    machine = {**bench.machine(), "fma_peak_gflops": 50.0, "fma_peak_gflops_one_thread": 30.0}
    phases = {phase: stats for phase in ("forward", "backward", "step", "total")}
    half = {phase: (1.0, 0.9, 1.1) for phase in phases}
    quarter = {phase: (0.5, 0.4, 0.6) for phase in phases}
    return {"machine": machine,
            "model": [{"input": "1x3x64x64", "runs": {"native": phases, "torchext": half}}],
            "cnn_models": [{"model": "mobilenet_v2", "input": "8x3x224x224",
                            "runs": {"native": phases, "torchext": quarter}}],
            "ops": [{"name": "relu 1x2", "native": {"forward": stats, "forward+backward": stats},
                     "torchext": {"forward": half["total"], "forward+backward": half["total"]}}],
            "cnn_ops": [{"name": "silu 1x2", "native": {"forward": stats, "forward+backward": stats},
                         "torchext": {"forward": stats, "forward+backward": quarter["total"]}}],
            "conv_layers": [{"name": "conv2d 3x3/1 4->4 on 1x4x8x8", "input": "1x3x32x32", "forward_flops": 4_000_000,
                             "native": {"forward": stats, "forward+backward": stats},
                             "torchext": {"forward": half["total"], "forward+backward": half["total"]},
                             "torchext avx2": {"forward": stats, "forward+backward": quarter["total"]}}],
            "gemm": [{"name": "gemm 8^3", "native_gflops": 10.0, "torchext_gflops": 9.0,
                      "native_ms": stats, "torchext_ms": stats}],
            "memory": [{"input": "1x3x64x64", "native": 100.0, "torchext": 80.0,
                        "native fixed mmap threshold": 70.0, "torchext fixed mmap threshold": 60.0}]}


def test_results_are_written_and_rerendered(tmp_path):
    table = bench.write_results(_fake_results(), tmp_path / "run")
    text = table.read_text()
    assert "| 1x3x64x64 | total | 2.000 (1.500-2.500) | 1.000 (0.900-1.100) | 0.50 | - |" in text
    assert "| gemm 8^3 | 10.0 | 9.0 | 0.90 |" in text
    assert "| silu 1x2 | 2.000 (1.500-2.500) | 2.000 (1.500-2.500) | 1.00 | 2.000 (1.500-2.500) | 0.500 (0.400-0.600) | 0.25 |" in text
    assert "| mobilenet_v2 | 8x3x224x224 | 0.25 | 0.25 | 2.000 (1.500-2.500) | 0.500 (0.400-0.600) | 0.25 |" in text
    # 3 x 4 MFLOP forward+backward in 2 ms (native) and 1 ms (ours), ours at 12 / 50 of the peak.
    assert "| 2.000 (1.500-2.500) | 1.000 (0.900-1.100) | 0.50 | 6 | 12 | 0.24 |" in text
    assert "| 1x3x64x64 | 100 | 80 | 70 | 60 |" in text
    assert "threads): 50 GFLOP/s (one thread: 30)." in text
    assert "| conv2d 3x3/1 4->4 on 1x4x8x8 | avx2 | 2.000 (1.500-2.500) | 0.500 (0.400-0.600) | 0.25 |" in text
    assert (tmp_path / "run" / "bench_cpu.png").stat().st_size > 0
    saved = json.loads((tmp_path / "run" / "bench_cpu.json").read_text())
    assert saved["model"][0]["input"] == "1x3x64x64"
    # --render rebuilds the table and chart from the saved JSON alone.
    assert bench.main(render=str(tmp_path / "run" / "bench_cpu.json"), out_dir=tmp_path / "again") == 0
    assert (tmp_path / "again" / "bench_cpu.md").read_text() == text


def test_results_elsewhere_leave_the_readme_alone(tmp_path):
    readme = bench.Path(bench.__file__).resolve().parents[1] / "README.md"
    before = readme.read_text() if readme.exists() else None
    bench.write_results(_fake_results(), tmp_path)
    assert (readme.read_text() if readme.exists() else None) == before


@pytest.mark.parametrize("implementation", ["native", "torchext"])
@pytest.mark.parametrize("malloc_env", [None, bench.FIXED_MMAP_THRESHOLD], ids=["default", "fixed_threshold"])
def test_peak_memory_of_training_steps_is_measured(implementation, malloc_env):
    assert bench.peak_memory_mb(2, 32, implementation, malloc_env) > 1
