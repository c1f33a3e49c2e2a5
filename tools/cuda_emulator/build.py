"""Builds extension/cuda (host code and kernels) as a CPU library, `torchext_emu`, whose kernels
run under the emulator in overlay/emu_cuda.h. The sources are copied to the build directory and
adapted there: each .cu has its `kernel<<<grid, block, smem, stream>>>(args)` launches rewritten as
calls to emu::launch, every file is compiled with the C++ namespace and op library `torchext`
renamed `torchext_emu` (so it loads beside torchext), and check_float accepts CPU float16 and
bfloat16 tensors so that the half-precision paths run too."""
import os
import re
import shutil

from torch.utils import cpp_extension

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _matching(src, i, open_ch, close_ch, step):
    """Index of the bracket matching the one at i, scanning in direction step."""
    depth = 0
    while True:
        if src[i] == open_ch:
            depth += 1
        elif src[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += step


def rewrite_launches(src):
    """`name<T>(...)<<<cfg>>>(args)` -> `::emu::launch(::emu::Config{cfg}, [&] { name<T>(args); })`."""
    out, i = [], 0
    while (j := src.find("<<<", i)) >= 0:
        k = _matching(src, j - 1, ">", "<", -1) if src[j - 1] == ">" else j
        start = re.search(r"[\w:]+$", src[:k]).start()
        end_cfg = src.find(">>>", j)
        open_args = end_cfg + 3
        assert src[open_args] == "(", src[j:open_args + 20]
        close_args = _matching(src, open_args, "(", ")", 1)
        out.append(src[i:start])
        out.append(f"::emu::launch(::emu::Config{{{src[j + 3:end_cfg]}}}, "
                   f"[&] {{ {src[start:j]}({src[open_args + 1:close_args]}); }})")
        i = close_args + 1
    out.append(src[i:])
    return "".join(out)


def _prepend(path, text, body=None):
    body = open(path).read() if body is None else body
    with open(path, "w") as f:
        f.write(text + body)


def build(build_dir, verbose=False):
    src_dir = os.path.join(build_dir, "src")
    shutil.rmtree(src_dir, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "extension"), os.path.join(src_dir, "extension"))
    common = os.path.join(src_dir, "extension", "common.h")
    text = open(common).read()
    old = "return t == at::kFloat || t == at::kDouble;"
    assert old in text, "extension/common.h: is_supported_cpu_dtype changed; update the emulator"
    _prepend(common, "", text.replace(
        old, "return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;", 1))
    rename = "#define torchext torchext_emu\n"
    sources = []
    cuda_dir = os.path.join(src_dir, "extension", "cuda")
    for name in sorted(os.listdir(cuda_dir)):
        path = os.path.join(cuda_dir, name)
        if name.endswith(".cu"):
            _prepend(path + ".cpp", rename + '#include "emu_cuda.h"\n', rewrite_launches(open(path).read()))
            sources.append(path + ".cpp")
        elif name.endswith(".cpp"):
            _prepend(path, rename + '#include "emu_ops.h"\n')
            sources.append(path)
    registration = os.path.join(src_dir, "extension", "registration.cpp")
    _prepend(registration, rename)
    sources.append(registration)
    cpp_extension.load(
        name="_emu", sources=sources, build_directory=build_dir, is_python_module=False,
        extra_include_paths=[os.path.join(HERE, "overlay")],
        extra_cflags=["-O1", "-pthread", "-Wno-unknown-pragmas"], extra_ldflags=["-pthread"],
        verbose=verbose)
    return os.path.join(build_dir, "_emu.so")
