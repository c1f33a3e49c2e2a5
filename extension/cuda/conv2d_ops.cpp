// 2-D convolution (CUDA host side): im2col over a chunk of images + one batched GEMM launch per
// chunk (batched over the chunk's images and the groups), and its backward.
//
// Forward, per image n and group g:  out[n]_g = W_g [Cout_g, Cg*kh*kw] @ columns[n]_g + bias_g
// Backward:  grad_W_g  = sum over chunks of grad_out_g [Cout_g, images*P] @ columns_g^T
//            grad_in   = col2im(W_g^T @ grad_out[n]_g)
//            grad_bias = sum of grad_out over images and pixels
// A 1x1 stride-1 unpadded convolution reads the input image as its columns matrix (no im2col).
// A depthwise one (groups == channels > 1) runs on the direct kernels of depthwise_conv2d.cu.
// For half/bfloat16 the weight gradient accumulates across chunks, and the input gradient's
// columns hold their sums, in float.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <type_traits>

#include "../conv2d_args.h"
#include "conv2d.h"
#include "depthwise_conv2d.h"
#include "gemm.h"
#include "host_utils.h"
#include "reduce_ops.h"

namespace torchext::cuda {
namespace {

// Upper bound on a columns buffer (elements): the batch is processed in chunks of images whose
// columns fit (always at least one image).
constexpr int64_t kColumnsBudget = int64_t{1} << 24;

// The validated sizes (conv2d_args.h) plus this backend's chunking of the batch.
struct ConvShape : Conv2dArgs {
  bool depthwise() const { return groups == geo.channels && groups > 1; }
  int64_t chunk() const {
    const int64_t per_image = std::max<int64_t>(1, geo.channels * geo.kernel_area() * geo.out_area());
    return std::clamp<int64_t>(kColumnsBudget / per_image, 1, std::max<int64_t>(batch, 1));
  }
};

// Validates every argument and derives the geometry (shared by forward and backward).
ConvShape conv_shape(const char* op, const at::Tensor& input, const at::Tensor& weight,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                     int64_t groups) {
  return ConvShape{conv2d_args(op, input, weight, stride, padding, dilation, groups)};
}

MatrixLayout layout(int64_t rs, int64_t cs, int64_t per_image, int64_t per_group) {
  MatrixLayout l;
  l.rs = rs;
  l.cs = cs;
  l.batch[0] = per_image;
  l.batch[1] = per_group;
  return l;
}

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* out,
                    const at::TensorOptions& options) {
  const ConvGeometry& g = s.geo;
  const int64_t P = g.out_area(), K = s.gemm_k(), cin_g = s.in_per_group(),
                cout_g = s.out_per_group();
  const int64_t image_in = g.channels * g.in_area(), image_out = s.out_channels * P;
  GemmProblem<T, T> p;
  p.M = cout_g;
  p.N = P;
  p.K = K;
  p.a = w;
  p.a_layout = layout(K, 1, 0, cout_g * K);
  p.c_layout = layout(P, 1, image_out, cout_g * P);
  if (bias != nullptr) {
    p.bias = bias;
    p.bias_layout = layout(1, 0, 0, cout_g);
  }
  if (s.is_pointwise()) {  // every image of the batch in one launch
    p.batches[0] = s.batch;
    p.batches[1] = s.groups;
    p.b = x;
    p.b_layout = layout(P, 1, image_in, cin_g * P);
    p.c = out;
    gemm_launch(p);
    return;
  }
  const int64_t chunk = s.chunk();
  auto columns = at::empty({g.channels * g.kernel_area() * chunk * P}, options);
  T* cols = columns.mutable_data_ptr<T>();
  for (int64_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const int64_t images = std::min(chunk, s.batch - n0), ld = images * P;
    im2col_launch(x + n0 * image_in, images, g, cols);
    p.batches[0] = images;
    p.batches[1] = s.groups;
    p.b = cols;
    p.b_layout = layout(ld, 1, P, K * ld);
    p.c = out + n0 * image_out;
    gemm_launch(p);
  }
}

at::Tensor conv2d_cuda(const at::Tensor& input, const at::Tensor& weight,
                       const std::optional<at::Tensor>& bias_opt, at::IntArrayRef stride,
                       at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  const char* op = "torchext.conv2d";
  const ConvShape s = conv_shape(op, input, weight, stride, padding, dilation, groups);
  at::Tensor bias;
  if (bias_opt.has_value() && bias_opt->defined()) {
    bias = bias_opt->contiguous();
    check_conv2d_bias(op, bias, input, s);
  }
  c10::cuda::CUDAGuard guard(input.device());
  auto out = at::empty({s.batch, s.out_channels, s.geo.out_h, s.geo.out_w}, input.options());
  if (out.numel() == 0) return out;
  const auto x = input.contiguous();
  const auto w = weight.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_conv2d", [&] {
    const scalar_t* b = bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr;
    if (s.depthwise()) {
      depthwise_forward_launch<scalar_t>(s, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), b,
                                         out.mutable_data_ptr<scalar_t>());
    } else {
      conv2d_forward<scalar_t>(s, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), b,
                               out.mutable_data_ptr<scalar_t>(), x.options());
    }
  });
  return out;
}

// grad_in = col2im(W^T @ grad_out) chunk by chunk (or W^T @ grad_out directly when pointwise).
template <typename T>
void conv2d_input_grad(const ConvShape& s, const T* go, const T* w, T* grad_in,
                       const at::TensorOptions& options) {
  using A = acc_t<T>;
  const ConvGeometry& g = s.geo;
  const int64_t P = g.out_area(), K = s.gemm_k(), cin_g = s.in_per_group(),
                cout_g = s.out_per_group();
  const int64_t image_in = g.channels * g.in_area(), image_out = s.out_channels * P;
  // W_g^T [K, Cout_g] @ grad_out[n]_g [Cout_g, P]
  auto setup = [&](auto& p) {
    p.M = K;
    p.N = P;
    p.K = cout_g;
    p.a = w;
    p.a_layout = layout(1, K, 0, cout_g * K);
    p.b_layout = layout(P, 1, image_out, cout_g * P);
  };
  if (s.is_pointwise()) {
    GemmProblem<T, T> p;
    setup(p);
    p.batches[0] = s.batch;
    p.batches[1] = s.groups;
    p.b = go;
    p.c = grad_in;
    p.c_layout = layout(P, 1, image_in, cin_g * P);
    gemm_launch(p);
    return;
  }
  const int64_t chunk = s.chunk();
  const at::Tensor columns = at::empty({g.channels * g.kernel_area() * chunk * P},
                                       options.dtype(c10::CppTypeToScalarType<A>::value));
  A* cols = columns.mutable_data_ptr<A>();
  GemmProblem<T, A> p;
  setup(p);
  for (int64_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const int64_t images = std::min(chunk, s.batch - n0), ld = images * P;
    p.batches[0] = images;
    p.batches[1] = s.groups;
    p.b = go + n0 * image_out;
    p.c = cols;
    p.c_layout = layout(ld, 1, P, K * ld);
    gemm_launch(p);
    col2im_launch(cols, images, g, grad_in + n0 * image_in);
  }
}

// grad_W_g [Cout_g, K] = sum over chunks of grad_out_g [Cout_g, images*P] @ columns_g^T.
template <typename T>
void conv2d_weight_grad(const ConvShape& s, const at::Tensor& go, const T* x, at::Tensor& grad_w) {
  using A = acc_t<T>;
  const ConvGeometry& g = s.geo;
  const int64_t P = g.out_area(), K = s.gemm_k(), cout_g = s.out_per_group();
  const int64_t image_in = g.channels * g.in_area();
  // Half/bfloat16 sum the chunks in a float buffer, rounded to T once at the end.
  at::Tensor acc = std::is_same_v<T, A> ? grad_w : at::empty(grad_w.sizes(), grad_w.options().dtype(at::kFloat));
  const int64_t chunk = s.chunk();
  auto columns = at::empty({g.channels * g.kernel_area() * chunk * P}, go.options());
  T* cols = columns.mutable_data_ptr<T>();
  GemmProblem<T, A> p;
  p.M = cout_g;
  p.N = K;
  p.batches[1] = s.groups;
  p.c = acc.mutable_data_ptr<A>();
  p.c_layout = layout(K, 1, 0, cout_g * K);
  for (int64_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const int64_t images = std::min(chunk, s.batch - n0), ld = images * P;
    im2col_launch(x + n0 * image_in, images, g, cols);
    // grad_out of the chunk as [Cout, images*P], matching the columns' column order.
    const auto go_chunk = go.narrow(0, n0, images).transpose(0, 1).contiguous();
    p.K = ld;
    p.a = go_chunk.const_data_ptr<T>();
    p.a_layout = layout(ld, 1, 0, cout_g * ld);
    p.b = cols;
    p.b_layout = layout(1, ld, 0, K * ld);
    p.beta = n0 == 0 ? 0.0 : 1.0;
    gemm_launch(p);
  }
  if (!acc.is_same(grad_w)) grad_w.copy_(acc);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask) {
  const char* op = "torchext.conv2d_backward";
  const ConvShape s = conv_shape(op, input, weight, stride, padding, dilation, groups);
  check_conv2d_grad_output(op, grad_output, input, s);
  c10::cuda::CUDAGuard guard(input.device());
  at::Tensor grad_input, grad_weight, grad_bias;
  const auto go = grad_output.contiguous();
  if (output_mask[2]) grad_bias = reduce_sum(go, {0, 2, 3}, /*keepdim=*/false);
  if (!output_mask[0] && !output_mask[1]) return {grad_input, grad_weight, grad_bias};
  const auto w = weight.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_conv2d_backward", [&] {
    if (output_mask[0]) {
      grad_input = at::empty(input.sizes(), input.options());
      if (grad_input.numel() > 0 && s.depthwise()) {
        depthwise_input_grad_launch<scalar_t>(s, go.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
                                              grad_input.mutable_data_ptr<scalar_t>());
      } else if (grad_input.numel() > 0) {
        conv2d_input_grad<scalar_t>(s, go.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
                                    grad_input.mutable_data_ptr<scalar_t>(), go.options());
      }
    }
    if (output_mask[1]) {
      grad_weight = at::empty(weight.sizes(), weight.options());
      if (s.batch == 0) {
        grad_weight.zero_();  // a sum over no images
      } else if (grad_weight.numel() > 0) {
        const auto x = input.contiguous();
        if (s.depthwise()) {
          depthwise_weight_grad_launch<scalar_t>(s, go.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
                                                 grad_weight.mutable_data_ptr<scalar_t>());
        } else {
          conv2d_weight_grad<scalar_t>(s, go, x.const_data_ptr<scalar_t>(), grad_weight);
        }
      }
    }
  });
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("conv2d", &conv2d_cuda);
  m.impl("conv2d_backward", &conv2d_backward_cuda);
}

}  // namespace torchext::cuda
