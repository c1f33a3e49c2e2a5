// Argument checks for the dim list of sum (torch.sum's semantics), shared by the CPU and CUDA
// host code. Only checks.
#pragma once
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace torchext {

// Which dims of self `dim` names: all of them for None or an empty list (as torch.sum). Each dim
// must be in range (a 0-dim tensor accepts 0 and -1) and named once.
inline std::vector<bool> reduced_dims(const char* op, const at::Tensor& self,
                                      at::OptionalIntArrayRef dim) {
  const int64_t ndim = self.dim();
  std::vector<bool> reduced(ndim, false);
  if (!dim.has_value() || dim->empty()) {
    std::fill(reduced.begin(), reduced.end(), true);
    return reduced;
  }
  const int64_t range = std::max<int64_t>(ndim, 1);  // a 0-dim tensor accepts dim 0 and -1
  std::vector<bool> seen(range, false);
  for (int64_t d : *dim) {
    TORCH_CHECK_INDEX(d >= -range && d < range, op, ": dimension out of range (expected to be in range of [",
                      -range, ", ", range - 1, "], but got ", d, ")");
    const int64_t w = d < 0 ? d + range : d;
    TORCH_CHECK(!seen[w], op, ": dim ", w, " appears multiple times in the list of dims");
    seen[w] = true;
    if (ndim > 0) reduced[w] = true;
  }
  return reduced;
}

}  // namespace torchext
