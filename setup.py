"""Builds torchext._C from extension/.

CPU sources always; the .cu sources when a CUDA toolkit is found, torch was built with CUDA and a
GPU is visible (nvcc takes most of a fresh build's time, for kernels that could not run).
TORCHEXT_CUDA=0 skips CUDA, TORCHEXT_CUDA=1 requires it (CI sets it, so the CUDA sources are
compiled for every submission). TORCHEXT_DEBUG=1 builds -O0 -g.
TORCHEXT_SANITIZE=address builds with AddressSanitizer and UndefinedBehaviorSanitizer.

One build runs on any x86-64 CPU: the generic code (argument checks, registrations, the dtype
switch) is compiled once for the x86-64 baseline, and every kernel in extension/cpu/kernels/ once
per CPU capability of torchext/backends/cpu_flags.py, each copy in its own namespace; at run time
extension/cpu/dispatch.h picks one by CPUID (or TORCHEXT_CPU_CAPABILITY).
"""
import glob
import importlib.util
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


def _cpu_flags():
    """torchext/backends/cpu_flags.py, loaded by path: importing the torchext package needs the
    build."""
    path = os.path.join(ROOT, "torchext", "backends", "cpu_flags.py")
    spec = importlib.util.spec_from_file_location("torchext_cpu_flags", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KERNEL_SOURCES = sorted(glob.glob("extension/cpu/kernels/*.cpp"))


class BuildExtension(cpp_extension.BuildExtension):
    """torch's BuildExtension (ninja, incremental), plus the kernel sources compiled once per CPU
    capability: setuptools has no per-file flags, so each capability is one more compile call
    with its own flags, TORCHEXT_CPU_CAPABILITY macro and object folder, and the objects join the
    link after the generic ones."""

    def build_extension(self, ext):
        args = ext.extra_compile_args
        cxx = list(args["cxx"] if isinstance(args, dict) else args)
        cpu_flags = _cpu_flags()
        # Sources with extra flags are compiled in calls of their own, into their own folders.
        special = {os.path.join("extension", "cpu", "kernels", source): extra
                   for source, extra in cpu_flags.SOURCE_FLAGS.items()}
        groups = [([s for s in KERNEL_SOURCES if s not in special], [], "")]
        groups += [([path], extra, "_" + os.path.splitext(os.path.basename(path))[0])
                   for path, extra in special.items()]
        objects = []
        for name, flags in cpu_flags.CPU_CAPABILITIES.items():
            for sources, extra, suffix in groups:
                objects += self.compiler.compile(
                    sources, output_dir=os.path.join(self.build_temp, "cpu_" + name + suffix),
                    macros=ext.define_macros + [("TORCHEXT_CPU_CAPABILITY", name.upper())],
                    include_dirs=ext.include_dirs, debug=self.debug,
                    extra_postargs=cxx + flags + extra)
        # Link order matters: inline functions and templates of shared headers (std, c10, ATen)
        # that several objects instantiate are merged, and the linker keeps the first copy it
        # meets. The generic objects come first, then the kernels for the baseline ("default",
        # first in cpu_flags.py), so every merged copy is baseline code: a copy compiled with
        # AVX-512 flags would crash an AVX2 CPU wherever any caller reached it.
        ext.extra_objects = objects
        super().build_extension(ext)


def _want_cuda():
    flag = os.environ.get("TORCHEXT_CUDA", "")
    available = cpp_extension.CUDA_HOME is not None and torch.version.cuda is not None
    if flag == "0":
        return False
    if flag == "1":
        if not available:
            sys.exit("TORCHEXT_CUDA=1 but no CUDA toolkit was found or torch has no CUDA")
        return True
    return available and torch.cuda.is_available()


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
    # setuptools relinks only when a source or dependency is newer than the library; the kernel
    # sources are compiled outside `sources`, so they (and every header) are named here.
    depends = KERNEL_SOURCES + sorted(glob.glob("extension/**/*.h", recursive=True)
                                      + glob.glob("extension/**/*.cuh", recursive=True))
    debug = os.environ.get("TORCHEXT_DEBUG") == "1"
    sanitize = os.environ.get("TORCHEXT_SANITIZE", "")
    opt = ["-O0", "-g"] if debug else ["-O3", "-g0"]
    # -fno-tree-loop-distribute-patterns: GCC otherwise turns copy and fill loops into memmove /
    # memset calls, and the kernels' loops are short (a 16-value panel row, a 14-pixel image
    # row), where the call costs more than the copy (it was 8% of a conv2d forward). Explicit
    # std::copy_n / std::fill_n calls still go to the C library.
    # -Wno-psabi: the kernels' 256-bit GCC vector types (batch_norm, max_pool2d) pass only between
    # functions of one object, so GCC's note that their ABI differs without AVX (the baseline
    # copy) concerns no caller.
    cxx = opt + ["-fopenmp", "-fno-tree-loop-distribute-patterns", "-Wall", "-Wno-unknown-pragmas",
                 "-Wno-unused-function", "-Wno-psabi"]
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
        depends=depends,
        extra_link_args=link,
        **kwargs,
    )


setup(
    name="torchext",
    version="0.1.0",
    description="Our own C++/CUDA kernels for the PyTorch autograd tutorials, behind torch.autograd.Function",
    packages=find_packages(include=["torchext", "torchext.*"]),
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtension},
    python_requires=">=3.9",
)
