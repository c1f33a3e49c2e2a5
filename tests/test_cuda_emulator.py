"""The CUDA emulator (tools/cuda_emulator) reports each kind of kernel bug it claims to catch: toy
kernels (tests/emulator_toys.cu) with one planted bug each fail under it, and their correct
versions pass. The toys are compiled once for the session with the emulator's rewrites and overlay,
not the whole emulated extension."""
import ctypes
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(ROOT, "tools", "cuda_emulator")
sys.path.insert(0, EMULATOR)
from build import rewrite_launches, rewrite_shared  # noqa: E402

c_float_p = ctypes.POINTER(ctypes.c_float)


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    out = tmp_path_factory.mktemp("emulator_toys")
    with open(os.path.join(ROOT, "tests", "emulator_toys.cu")) as f:
        source, _ = rewrite_shared(rewrite_launches(f.read()))
    cpp = out / "toys.cpp"
    cpp.write_text(source)
    lib = out / "toys.so"
    subprocess.run(["g++", "-std=c++20", "-O1", "-pthread", "-shared", "-fPIC", "-I",
                    os.path.join(EMULATOR, "overlay"), str(cpp), "-o", str(lib)], check=True)
    return ctypes.CDLL(str(lib))


@pytest.fixture(autouse=True)
def short_time_limit(monkeypatch):
    # The emulator reads these at every launch; a short limit keeps the deadlock test quick.
    monkeypatch.setenv("EMU_TIMEOUT", "0.5")
    monkeypatch.setenv("EMU_SEED", "1234")


def floats(values):
    return (ctypes.c_float * len(values))(*values)


def call(fn, *args):
    err = ctypes.create_string_buffer(4096)
    rc = fn(*args, err)
    return rc, err.value.decode()


def block_sum(toys, n, skip_barrier=False, skip_tail=False):
    data = floats([float(i % 7) for i in range(n)])
    out = floats([0.0])
    rc, err = call(toys.toy_block_sum, data, ctypes.c_int64(n), out, skip_barrier, skip_tail)
    return rc, err, out[0], float(sum(i % 7 for i in range(n)))


def test_correct_reduction_passes(toys):
    rc, err, got, want = block_sum(toys, 1000)
    assert rc == 0, err
    assert got == want


def test_missing_barrier_is_a_shared_memory_race(toys):
    rc, err, _, _ = block_sum(toys, 1000, skip_barrier=True)
    assert rc == 1
    assert "block_sum" in err and "missing __syncthreads" in err and "shares[" in err, err
    assert "EMU_SEED=1234" in err


def test_uninitialised_shared_memory_read(toys):
    rc, err, _, _ = block_sum(toys, 1000, skip_tail=True)
    assert rc == 1
    assert "uninitialised shared memory" in err, err


def test_blocks_relying_on_index_order_get_wrong_results(toys):
    n = 64
    data = floats([1.0] * n)
    for bug, expected_ok in [(False, True), (True, False)]:
        out = floats([0.0] * n)
        rc, err = call(toys.toy_prefix, data, ctypes.c_int64(n), out, bug)
        assert rc == 0, err
        assert (list(out) == [float(i + 1) for i in range(n)]) == expected_ok


def test_divergent_barriers(toys):
    out = floats([0.0] * 64)
    rc, err = call(toys.toy_barriers, out, 0)
    assert rc == 0, err
    rc, err = call(toys.toy_barriers, out, 1)
    assert rc == 1 and "divergent __syncthreads" in err, err
    rc, err = call(toys.toy_barriers, out, 2)
    assert rc == 1 and "divergent __syncthreads" in err and "returned from the kernel" in err, err


def test_deadlock_fails_within_the_time_limit(toys):
    out = floats([0.0] * 4)
    flag = ctypes.c_int(0)
    rc, err = call(toys.toy_handoff, ctypes.byref(flag), out, False)
    assert rc == 0, err
    flag.value = 0
    rc, err = call(toys.toy_handoff, ctypes.byref(flag), out, True)
    assert rc == 1 and "deadlock" in err and "0.5" in err, err


def test_shared_memory_limit(toys):
    out = ctypes.c_double(0)
    rc, err = call(toys.toy_fill_shared, ctypes.byref(out), False)
    assert rc == 0, err
    assert out.value == 6143
    rc, err = call(toys.toy_fill_shared, ctypes.byref(out), True)
    assert rc == 1 and "fill_shared<6145>" in err and "49152 bytes of shared memory" in err, err


def test_dynamic_shared_memory(toys):
    out = floats([0.0] * 32)
    rc, err = call(toys.toy_dynamic_copy, out, 32, ctypes.c_size_t(32 * 4), False)
    assert rc == 0, err
    assert list(out) == [float(i) for i in range(32)]
    rc, err = call(toys.toy_dynamic_copy, out, 32, ctypes.c_size_t(32 * 4), True)
    assert rc == 1 and "uninitialised shared memory" in err and "dyn[" in err, err
    rc, err = call(toys.toy_dynamic_copy, out, 32, ctypes.c_size_t(48 * 1024 + 4), False)
    assert rc == 1 and "dynamic shared memory" in err, err


@pytest.mark.parametrize("dims,ok", [((32, 32, 1), True), ((32, 33, 1), False), ((1025, 1, 1), False),
                                     ((1, 1, 65), False), ((1, 1, 64), True)])
def test_block_shape_limits(toys, dims, ok):
    out = floats([0.0] * 1024)
    rc, err = call(toys.toy_block_dims, out, *[ctypes.c_uint(d) for d in dims])
    assert rc == (0 if ok else 1), err
    if not ok:
        assert "barriers" in err and "sm_80/sm_90 launch limit" in err, err


def test_grid_y_limit_and_a_second_grid_stride_pass(toys):
    n = 70000
    out = floats([-1.0] * n)
    rc, err = call(toys.toy_rows, out, ctypes.c_int64(n), ctypes.c_uint(65536))
    assert rc == 1 and "grid.y or grid.z over 65535" in err, err
    rc, err = call(toys.toy_rows, out, ctypes.c_int64(n), ctypes.c_uint(65535))
    assert rc == 0, err
    assert list(out) == [float(i) for i in range(n)]
