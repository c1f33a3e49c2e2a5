// Force-included into the host *_ops.cpp files: their TORCH_LIBRARY_IMPL(..., CUDA, ...)
// registers for the CPU key instead, so the ops run on CPU tensors.
#pragma once
#include <torch/library.h>
#undef TORCH_LIBRARY_IMPL
#define TORCH_LIBRARY_IMPL(ns, k, m) _TORCH_LIBRARY_IMPL(ns, CPU, m, C10_UID)
