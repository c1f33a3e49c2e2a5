// max_pool2d with indices, adaptive_avg_pool2d and their backwards (CUDA host side), for
// (N, C, H, W) or unbatched (C, H, W) inputs.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <tuple>

#include "host_utils.h"
#include "pooling.h"

namespace torchext::cuda {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Output length along one dim: floor (or ceil) of (in + 2p - d(k-1) - 1) / s, plus one; in ceil
// mode the last window must still start inside the input or the left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

void check_pair(const char* op, const char* arg, at::IntArrayRef v) {
  TORCH_CHECK(v.size() == 2, op, ": expected ", arg, " to have 2 elements but got ", v);
}

PoolGeometry pool_geometry(const char* op, const at::Tensor& self, at::IntArrayRef kernel,
                           at::IntArrayRef stride, at::IntArrayRef padding,
                           at::IntArrayRef dilation, bool ceil_mode) {
  check_pair(op, "kernel_size", kernel);
  check_pair(op, "stride", stride);
  check_pair(op, "padding", padding);
  check_pair(op, "dilation", dilation);
  TORCH_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": expected kernel_size to be positive but got ",
              kernel);
  TORCH_CHECK(stride[0] > 0 && stride[1] > 0, op, ": expected stride to be positive but got ", stride);
  TORCH_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": expected dilation to be positive but got ",
              dilation);
  TORCH_CHECK(padding[0] >= 0 && padding[1] >= 0, op,
              ": expected padding to be non-negative but got ", padding);
  TORCH_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
              ": pad should be at most half of kernel size, but got padding ", padding,
              " for kernel_size ", kernel);
  PoolGeometry g{kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0],
                 dilation[1], self.size(-2), self.size(-1), 0, 0};
  g.OH = pooled_size(g.H, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.OW = pooled_size(g.W, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  TORCH_CHECK(g.OH >= 1 && g.OW >= 1, op, ": output size is too small: input of spatial size (",
              g.H, ", ", g.W, ") pooled with kernel_size ", kernel, ", stride ", stride,
              ", padding ", padding, " and dilation ", dilation, " gives (", g.OH, ", ", g.OW, ")");
  return g;
}

void check_pool_input(const char* op, const char* arg, const at::Tensor& t) {
  check_float(op, arg, t);
  TORCH_CHECK(t.dim() == 3 || t.dim() == 4, op, ": expected ", arg,
              " to be 3-D (C, H, W) or 4-D (N, C, H, W) but got a ", t.dim(),
              "-D tensor of shape ", t.sizes());
}

void check_self(const char* op, const at::Tensor& self) {
  check_pool_input(op, "self", self);
  for (int64_t d = self.dim() - 3; d < self.dim(); ++d)
    TORCH_CHECK(self.size(d) > 0, op,
                ": expected self to have non-zero channel and spatial sizes but got shape ",
                self.sizes());
}

// grad_output matches self in every dim but the last two.
void check_grad_output(const char* op, const at::Tensor& grad_output, const at::Tensor& self) {
  check_pool_input(op, "grad_output", grad_output);
  check_same_device(op, "self", self, "grad_output", grad_output);
  check_same_dtype(op, "self", self, "grad_output", grad_output);
  TORCH_CHECK(grad_output.dim() == self.dim() &&
                  grad_output.sizes().slice(0, self.dim() - 2) == self.sizes().slice(0, self.dim() - 2),
              op, ": expected grad_output to have self's leading (batch, channel) sizes ",
              self.sizes().slice(0, self.dim() - 2), " but got shape ", grad_output.sizes());
}

std::vector<int64_t> pooled_shape(const at::Tensor& self, int64_t OH, int64_t OW) {
  auto shape = self.sizes().vec();
  shape[self.dim() - 2] = OH;
  shape[self.dim() - 1] = OW;
  return shape;
}

int64_t planes_of(const at::Tensor& t) { return t.dim() == 4 ? t.size(0) * t.size(1) : t.size(0); }

std::tuple<at::Tensor, at::Tensor> max_pool2d_cuda(const at::Tensor& self, at::IntArrayRef kernel_size,
                                                   at::IntArrayRef stride, at::IntArrayRef padding,
                                                   at::IntArrayRef dilation, bool ceil_mode) {
  const char* op = "torchext.max_pool2d";
  check_self(op, self);
  const PoolGeometry g = pool_geometry(op, self, kernel_size, stride, padding, dilation, ceil_mode);
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  const auto shape = pooled_shape(self, g.OH, g.OW);
  auto out = at::empty(shape, x.options());
  auto indices = at::empty(shape, x.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_max_pool2d", [&] {
    max_pool2d_launch(x.const_data_ptr<scalar_t>(), planes_of(x), g,
                      out.mutable_data_ptr<scalar_t>(), indices.mutable_data_ptr<int64_t>());
  });
  return {out, indices};
}

at::Tensor max_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self,
                                    const at::Tensor& indices) {
  const char* op = "torchext.max_pool2d_backward";
  check_self(op, self);
  check_grad_output(op, grad_output, self);
  check_same_device(op, "self", self, "indices", indices);
  TORCH_CHECK(indices.scalar_type() == at::kLong, op, ": expected indices to be int64 but got ",
              indices.scalar_type());
  TORCH_CHECK(grad_output.sizes() == indices.sizes(), op,
              ": expected grad_output and indices of the same shape but got ", grad_output.sizes(),
              " and ", indices.sizes());
  c10::cuda::CUDAGuard guard(self.device());
  const auto go = grad_output.contiguous();
  const auto ix = indices.contiguous();
  at::Tensor grad_input;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_max_pool2d_backward", [&] {
    using A = acc_t<scalar_t>;
    // Half/bfloat16 gradients are summed in a float buffer and rounded once.
    auto acc = at::zeros(self.sizes(), go.options().dtype(c10::CppTypeToScalarType<A>::value));
    max_pool2d_backward_launch(go.const_data_ptr<scalar_t>(), ix.const_data_ptr<int64_t>(),
                               planes_of(self), self.size(-2) * self.size(-1),
                               go.size(-2) * go.size(-1), acc.template mutable_data_ptr<A>());
    grad_input = acc.to(go.scalar_type());
  });
  return grad_input;
}

at::Tensor adaptive_avg_pool2d_cuda(const at::Tensor& self, at::IntArrayRef output_size) {
  const char* op = "torchext.adaptive_avg_pool2d";
  check_self(op, self);
  TORCH_CHECK(output_size.size() == 2, op, ": expected output_size to have 2 elements but got ",
              output_size);
  TORCH_CHECK(output_size[0] >= 0 && output_size[1] >= 0, op,
              ": expected output_size to be non-negative but got ", output_size);
  const int64_t H = self.size(-2), W = self.size(-1), OH = output_size[0], OW = output_size[1];
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  auto out = at::empty(pooled_shape(self, OH, OW), x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_adaptive_avg_pool2d", [&] {
    adaptive_avg_pool2d_launch(x.const_data_ptr<scalar_t>(), planes_of(x), H, W, OH, OW,
                               out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor adaptive_avg_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self) {
  const char* op = "torchext.adaptive_avg_pool2d_backward";
  check_self(op, self);
  check_grad_output(op, grad_output, self);
  const int64_t H = self.size(-2), W = self.size(-1);
  const int64_t OH = grad_output.size(-2), OW = grad_output.size(-1);
  c10::cuda::CUDAGuard guard(self.device());
  const auto go = grad_output.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  if (go.numel() == 0) return grad_input.zero_();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_adaptive_avg_pool2d_backward", [&] {
    adaptive_avg_pool2d_backward_launch(go.const_data_ptr<scalar_t>(), planes_of(self), H, W, OH,
                                        OW, grad_input.mutable_data_ptr<scalar_t>());
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("max_pool2d", &max_pool2d_cuda);
  m.impl("max_pool2d_backward", &max_pool2d_backward_cuda);
  m.impl("adaptive_avg_pool2d", &adaptive_avg_pool2d_cuda);
  m.impl("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_cuda);
}

}  // namespace torchext::cuda
