"""Builds torchext._C from extension/.

CPU sources always; the .cu sources when a CUDA toolkit is found and torch was built with CUDA.
TORCHEXT_CUDA=0 skips CUDA, TORCHEXT_CUDA=1 requires it. TORCHEXT_DEBUG=1 builds -O0 -g.
TORCHEXT_SANITIZE=address builds with AddressSanitizer and UndefinedBehaviorSanitizer.
TORCHEXT_MARCH sets -march (default: native, since the extension is always built where it runs).
"""
import glob
import os
import shutil
import sys


def _resolve_cuda_home():
    """cpp_extension guesses CUDA_HOME from `which nvcc`, which here is a wrapper script in
    /usr/local/bin; point it at the real toolkit before cpp_extension is imported."""
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return
    for candidate in ("/usr/local/cuda",):
        if os.path.exists(os.path.join(candidate, "bin", "nvcc")):
            os.environ["CUDA_HOME"] = candidate
            return
    nvcc = shutil.which("nvcc")
    if nvcc:
        home = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
        if os.path.exists(os.path.join(home, "include", "cuda_runtime.h")):
            os.environ["CUDA_HOME"] = home


_resolve_cuda_home()

import torch  # noqa: E402
from setuptools import find_packages, setup  # noqa: E402
from torch.utils import cpp_extension  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))


def _want_cuda():
    flag = os.environ.get("TORCHEXT_CUDA", "")
    available = cpp_extension.CUDA_HOME is not None and torch.version.cuda is not None
    if flag == "0":
        return False
    if flag == "1":
        if not available:
            sys.exit("TORCHEXT_CUDA=1 but no CUDA toolkit was found or torch has no CUDA")
        return True
    return available


def _cuda_include_dirs():
    """The toolkit here lacks the cuBLAS/cuSPARSE headers that ATen/cuda headers include;
    torch's nvidia wheels carry them."""
    dirs = []
    for entry in sys.path:
        dirs += glob.glob(os.path.join(entry, "nvidia", "cu*", "include"))
    return sorted(set(d for d in dirs if os.path.isdir(d)))


def _extension():
    use_cuda = _want_cuda()
    sources = sorted(glob.glob("extension/*.cpp") + glob.glob("extension/cpu/*.cpp"))
    debug = os.environ.get("TORCHEXT_DEBUG") == "1"
    sanitize = os.environ.get("TORCHEXT_SANITIZE", "")
    march = os.environ.get("TORCHEXT_MARCH", "native")
    opt = ["-O0", "-g"] if debug else ["-O3", "-g0"]
    # -fno-tree-loop-distribute-patterns: GCC otherwise turns copy and fill loops into memmove /
    # memset calls, and the kernels' loops are short (a 16-value panel row, a 14-pixel image
    # row), where the call costs more than the copy (it was 8% of a conv2d forward). Explicit
    # std::copy_n / std::fill_n calls still go to the C library.
    cxx = opt + ["-fopenmp", "-fno-tree-loop-distribute-patterns", "-Wall", "-Wno-unknown-pragmas",
                 "-Wno-unused-function"]
    if march:
        cxx.append(f"-march={march}")
    link = ["-fopenmp"]
    if sanitize:
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        cxx += san
        link += san
    macros = []
    kwargs = {}
    if use_cuda:
        # Kernels (.cu) include only light c10 headers; the tensor-level host code that needs
        # ATen lives in extension/cuda/*_ops.cpp, parsed once by the host compiler (nvcc would
        # parse ATen again for every architecture, ~20 s per file and architecture).
        sources += sorted(glob.glob("extension/cuda/*.cu") + glob.glob("extension/cuda/*.cpp"))
        macros.append(("TORCHEXT_WITH_CUDA", None))
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
        # nvcc knows no -g0; -lineinfo keeps device line numbers for compute-sanitizer.
        nvcc = (["-O0", "-g", "-lineinfo"] if debug else ["-O3"]) + ["--expt-relaxed-constexpr"]
        kwargs["extra_compile_args"] = {"cxx": cxx, "nvcc": nvcc}
        kwargs["include_dirs"] = _cuda_include_dirs()
        ext_cls = cpp_extension.CUDAExtension
    else:
        kwargs["extra_compile_args"] = {"cxx": cxx}
        ext_cls = cpp_extension.CppExtension
    return ext_cls(
        "torchext._C",
        sources,
        define_macros=macros,
        extra_link_args=link,
        **kwargs,
    )


setup(
    name="torchext",
    version="0.1.0",
    description="Our own C++/CUDA kernels for the PyTorch autograd tutorials, behind torch.autograd.Function",
    packages=find_packages(include=["torchext", "torchext.*"]),
    ext_modules=[_extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension},
    python_requires=">=3.9",
)
