// 2-D convolution (CUDA host side): im2col over a chunk of images + one batched GEMM launch per
// chunk (batched over the chunk's images and the groups), and its backward.
//
// Forward, per image n and group g:  out[n]_g = W_g [Cout_g, Cg*kh*kw] @ columns[n]_g + bias_g
// Backward:  grad_W_g  = sum over chunks of grad_out_g [Cout_g, images*P] @ columns_g^T
//            grad_in   = col2im(W_g^T @ grad_out[n]_g)
//            grad_bias = sum of grad_out over images and pixels
// A 1x1 stride-1 unpadded convolution reads the input image as its columns matrix (no im2col).
// For half/bfloat16 the weight gradient accumulates across chunks, and the input gradient's
// columns hold their sums, in float.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <type_traits>

#include "conv2d.h"
#include "gemm.h"
#include "host_utils.h"
#include "reduce_ops.h"

namespace torchext::cuda {
namespace {

// Upper bound on a columns buffer (elements): the batch is processed in chunks of images whose
// columns fit (always at least one image).
constexpr int64_t kColumnsBudget = int64_t{1} << 24;

struct ConvShape {
  int64_t batch, out_channels, groups;
  ConvGeometry geo;
  int64_t in_per_group() const { return geo.channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  int64_t gemm_k() const { return in_per_group() * geo.kernel_area(); }  // GEMM depth per group
  // 1x1, stride 1, no padding: the input image is already the columns matrix.
  bool is_pointwise() const {
    return geo.kernel_h == 1 && geo.kernel_w == 1 && geo.stride_h == 1 && geo.stride_w == 1 &&
           geo.out_h == geo.height && geo.out_w == geo.width && geo.pad_top == 0 &&
           geo.pad_left == 0;
  }
  int64_t chunk() const {
    const int64_t per_image = std::max<int64_t>(1, geo.channels * geo.kernel_area() * geo.out_area());
    return std::clamp<int64_t>(kColumnsBudget / per_image, 1, std::max<int64_t>(batch, 1));
  }
};

// Validates every argument and derives the geometry (shared by forward and backward).
ConvShape conv_shape(const char* op, const at::Tensor& input, const at::Tensor& weight,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                     int64_t groups) {
  check_float(op, "input", input);
  check_float_on(op, "weight", weight, "input", input);
  check_same_dtype(op, "input", input, "weight", weight);
  TORCH_CHECK(input.dim() == 4, op, ": expected input to be 4-D (N, C, H, W) but got a ",
              input.dim(), "-D tensor of shape ", input.sizes());
  check_dim(op, "weight", weight, 4);
  TORCH_CHECK(stride.size() == 2, op, ": expected stride to have 2 values but got ", stride);
  TORCH_CHECK(padding.size() == 4, op,
              ": expected padding to have 4 values (top, bottom, left, right) but got ", padding);
  TORCH_CHECK(dilation.size() == 2, op, ": expected dilation to have 2 values but got ", dilation);
  TORCH_CHECK(stride[0] > 0 && stride[1] > 0, op, ": expected stride to be positive but got ",
              stride);
  TORCH_CHECK(dilation[0] > 0 && dilation[1] > 0, op,
              ": expected dilation to be positive but got ", dilation);
  for (int64_t p : padding) {
    TORCH_CHECK(p >= 0, op, ": expected padding to be non-negative but got ", padding);
  }
  TORCH_CHECK(groups > 0, op, ": expected groups to be positive but got ", groups);
  const int64_t channels = input.size(1), out_channels = weight.size(0);
  TORCH_CHECK(channels % groups == 0, op, ": expected input channels (", channels,
              ") to be divisible by groups (", groups, ")");
  TORCH_CHECK(out_channels % groups == 0, op, ": expected weight's output channels (",
              out_channels, ") to be divisible by groups (", groups, ")");
  TORCH_CHECK(weight.size(1) * groups == channels, op, ": weight of shape ", weight.sizes(),
              " expects ", weight.size(1) * groups, " input channels (", weight.size(1),
              " per group x ", groups, " groups) but input of shape ", input.sizes(), " has ",
              channels);
  ConvGeometry g{};
  g.channels = channels;
  g.height = input.size(2);
  g.width = input.size(3);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_top = padding[0];
  g.pad_left = padding[2];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  // out = floor((padded - dilated_kernel) / stride) + 1, which is >= 1 exactly when the dilated
  // kernel fits in the padded input.
  const int64_t padded_h = g.height + padding[0] + padding[1];
  const int64_t padded_w = g.width + padding[2] + padding[3];
  const int64_t span_h = g.dilation_h * (g.kernel_h - 1) + 1;
  const int64_t span_w = g.dilation_w * (g.kernel_w - 1) + 1;
  TORCH_CHECK(g.kernel_h > 0 && g.kernel_w > 0, op,
              ": expected a non-empty kernel but weight has shape ", weight.sizes());
  TORCH_CHECK(padded_h >= span_h && padded_w >= span_w, op, ": computed output size (",
              padded_h >= span_h ? (padded_h - span_h) / g.stride_h + 1 : 0, " x ",
              padded_w >= span_w ? (padded_w - span_w) / g.stride_w + 1 : 0,
              ") is too small: the dilated kernel (", span_h, " x ", span_w,
              ") is larger than the padded input (", padded_h, " x ", padded_w, ")");
  g.out_h = (padded_h - span_h) / g.stride_h + 1;
  g.out_w = (padded_w - span_w) / g.stride_w + 1;
  return ConvShape{input.size(0), out_channels, groups, g};
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
    check_float_on(op, "bias", bias, "input", input);
    check_same_dtype(op, "input", input, "bias", bias);
    TORCH_CHECK(bias.dim() == 1 && bias.size(0) == s.out_channels, op,
                ": expected bias of shape [", s.out_channels, "] but got ", bias.sizes());
  }
  c10::cuda::CUDAGuard guard(input.device());
  auto out = at::empty({s.batch, s.out_channels, s.geo.out_h, s.geo.out_w}, input.options());
  if (out.numel() == 0) return out;
  const auto x = input.contiguous();
  const auto w = weight.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_conv2d", [&] {
    conv2d_forward<scalar_t>(s, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
                             bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr,
                             out.mutable_data_ptr<scalar_t>(), x.options());
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
  check_float_on(op, "grad_output", grad_output, "input", input);
  check_same_dtype(op, "grad_output", grad_output, "input", input);
  const std::array<int64_t, 4> out_shape{s.batch, s.out_channels, s.geo.out_h, s.geo.out_w};
  TORCH_CHECK(grad_output.sizes() == at::IntArrayRef(out_shape), op,
              ": expected grad_output of shape ", at::IntArrayRef(out_shape), " but got ",
              grad_output.sizes());
  c10::cuda::CUDAGuard guard(input.device());
  at::Tensor grad_input, grad_weight, grad_bias;
  const auto go = grad_output.contiguous();
  if (output_mask[2]) grad_bias = reduce_sum(go, {0, 2, 3}, /*keepdim=*/false);
  if (!output_mask[0] && !output_mask[1]) return {grad_input, grad_weight, grad_bias};
  const auto w = weight.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_conv2d_backward", [&] {
    if (output_mask[0]) {
      grad_input = at::empty(input.sizes(), input.options());
      if (grad_input.numel() > 0)
        conv2d_input_grad<scalar_t>(s, go.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
                                    grad_input.mutable_data_ptr<scalar_t>(), go.options());
    }
    if (output_mask[1]) {
      grad_weight = at::empty(weight.sizes(), weight.options());
      if (s.batch == 0) {
        grad_weight.zero_();  // a sum over no images
      } else if (grad_weight.numel() > 0) {
        const auto x = input.contiguous();
        conv2d_weight_grad<scalar_t>(s, go, x.const_data_ptr<scalar_t>(), grad_weight);
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
