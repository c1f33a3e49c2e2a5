"""Builds extension/cuda (host code and kernels) as a CPU library, `torchext_emu`, whose kernels
run under the emulator in overlay/emu_cuda.h. The sources are copied to the build directory and
adapted there: each .cu has its `kernel<<<grid, block, smem, stream>>>(args)` launches rewritten as
calls to emu::launch and its `__shared__` declarations as per-block checked arrays, every file is
compiled with the C++ namespace and op library `torchext` renamed `torchext_emu` (so it loads
beside torchext), and check_float accepts CPU float16 and bfloat16 tensors so that the
half-precision paths run too."""
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
    """`name<T>(...)<<<cfg>>>(args)` ->
    `::emu::launch("name<T>", ::emu::Config{cfg}, [&] { name<T>(args); })`."""
    out, i = [], 0
    while (j := src.find("<<<", i)) >= 0:
        k = _matching(src, j - 1, ">", "<", -1) if src[j - 1] == ">" else j
        start = re.search(r"[\w:]+$", src[:k]).start()
        end_cfg = src.find(">>>", j)
        open_args = end_cfg + 3
        assert src[open_args] == "(", src[j:open_args + 20]
        close_args = _matching(src, open_args, "(", ")", 1)
        out.append(src[i:start])
        out.append(f"::emu::launch(\"{src[start:j]}\", ::emu::Config{{{src[j + 3:end_cfg]}}}, "
                   f"[&] {{ {src[start:j]}({src[open_args + 1:close_args]}); }})")
        i = close_args + 1
    out.append(src[i:])
    return "".join(out)


_SHARED = re.compile(r"(extern\s+)?__shared__\s+([^;]+);")
_DECLARATOR = re.compile(r"^(.*?)\s*\b(\w+)\s*((?:\[[^\]]*\])*)\s*$")


def _split_declarators(text):
    """Splits `A x[N], y[N]` at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "[(<"
        depth -= ch in "])>"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def rewrite_shared(src, first_site=0):
    """`__shared__ T a[N], b[M];` -> `auto a = ::emu::shared<T[N]>("a", site); auto b = ...;` and
    `extern __shared__ T d[];` -> `auto d = ::emu::dynamic_shared<T>("d");` (overlay/emu_shared.h).
    Each declaration gets its own site number, from first_site up. Returns (source, next site)."""
    site = first_site

    def one(m):
        nonlocal site
        first, *rest = _split_declarators(m.group(2))
        decl = _DECLARATOR.match(first.strip())
        assert decl, f"emulator: cannot parse shared declaration {m.group(0)!r}"
        base = decl.group(1)
        if m.group(1):
            assert decl.group(3) == "[]" and not rest, f"emulator: unsupported {m.group(0)!r}"
            return f'auto {decl.group(2)} = ::emu::dynamic_shared<{base}>("{decl.group(2)}");'
        out = []
        for name, dims in [(decl.group(2), decl.group(3))] + [
                _DECLARATOR.match(r.strip()).groups()[1:] for r in rest]:
            out.append(f'auto {name} = ::emu::shared<{base}{dims}>("{name}", {site});')
            site += 1
        return " ".join(out)

    return _SHARED.sub(one, src), site


def _schemas(registration):
    """The `TORCH_LIBRARY(torchext, m) { ... }` block of registration.cpp: the op schemas, without
    the Python module init around them (it needs the CPU half, which the emulator leaves out)."""
    start = registration.index("TORCH_LIBRARY(torchext, m) {")
    end = _matching(registration, registration.index("{", start), "{", "}", 1)
    return registration[start:end + 1] + "\n"


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
    sources, site = [], 0
    cuda_dir = os.path.join(src_dir, "extension", "cuda")
    for name in sorted(os.listdir(cuda_dir)):
        path = os.path.join(cuda_dir, name)
        if name.endswith(".cu"):
            body, site = rewrite_shared(rewrite_launches(open(path).read()), site)
            _prepend(path + ".cpp", rename + '#include "emu_cuda.h"\n', body)
            sources.append(path + ".cpp")
        elif name.endswith(".cpp"):
            _prepend(path, rename + '#include "emu_ops.h"\n')
            sources.append(path)
    registration = os.path.join(src_dir, "extension", "registration.cpp")
    _prepend(registration, rename + "#include <torch/library.h>\n", _schemas(open(registration).read()))
    sources.append(registration)
    cpp_extension.load(
        name="_emu", sources=sources, build_directory=build_dir, is_python_module=False,
        extra_include_paths=[os.path.join(HERE, "overlay")],
        extra_cflags=["-O1", "-pthread", "-Wno-unknown-pragmas"], extra_ldflags=["-pthread"],
        verbose=verbose)
    return os.path.join(build_dir, "_emu.so")
