// 2-D convolution (CPU): im2col over a chunk of images + one GEMM per group, and its backward.
//
// Forward, per group g:  out_g [Cout_g, B*P] = W_g [Cout_g, Cg*kh*kw] @ columns_g [Cg*kh*kw, B*P]
// Backward:              grad_W_g  = grad_out_g @ columns_g^T      (summed over chunks)
//                        grad_in   = col2im(W_g^T @ grad_out_g)
//                        grad_bias = sum of grad_out over images and pixels
// B images side by side make the GEMM's N wide even when each image's output is tiny (ResNet's
// last layers: 2x2 pixels). A 1x1 stride-1 unpadded convolution is already a GEMM on each
// image: no im2col. Without groups the forward writes the columns straight into the GEMM's
// packed panels (Im2colPanels), or, at unit horizontal stride with output rows a whole number of
// vectors, writes no columns at all: the GEMM reads them from the padded images (implicit GEMM,
// gemm_gathered_b). Only the gradients asked for are computed; a frozen weight costs neither an
// im2col nor a GEMM.
#include <ATen/Parallel.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "../conv2d_dispatch.h"
#include "../../geometry.h"
#include "gemm.h"
#include "im2col.h"
#include "winograd.h"
#include "workspace.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

// Columns buffer budget (elements): the batch is processed in chunks of images whose columns fit
// (at least one image per chunk). About L2-sized, so that the columns im2col writes are still in
// cache when the GEMM packs them; but never below the weight's size, since the GEMM repacks the
// weight for every chunk. This also bounds the buffer's memory.
constexpr int64_t kColumnsBudget = int64_t(1) << 18;
// The weight gradient sums over the chunk's output pixels (ld of them). From this many on it
// runs as grad_W^T = columns @ grad_out^T, which lets the GEMM stream the large columns matrix
// as a row-major left operand instead of repacking it transposed; below, the reduction is too
// short to amortise storing grad_W^T column by column.
constexpr int64_t kLongReduction = 256;
// Below this many output pixels per image a per-image GEMM is too narrow to run well, so even a
// 1x1 convolution goes through columns that put the images side by side.
constexpr int64_t kWideGemm = 64;
// Fewest output pixels (GEMM columns) a thread's share of the batch must have for the batch to be
// split across threads by image rather than each GEMM across threads by rows or columns.
constexpr int64_t kWideImagePart = 256;

// Bytes of columns panels made and multiplied at a time in the forward: about what stays in L2
// (512 KiB here) beside the weight's rows being read, so that the GEMM reads the panels from L2
// rather than main memory. At 8x64x32x32, 64->64, blocking took the forward from 1.3x native's
// time to 0.95x. The implicit GEMM (no panels written) keeps the same blocks: their output
// stays in cache across the GEMM's depth blocks, and they are narrow enough for the GEMM to read
// the weight in place instead of packing it.
constexpr int64_t kPanelBlockBytes = int64_t(192) << 10;
// Panels per block for a GEMM depth (at least one).
template <typename T>
int64_t panel_block(int64_t depth) {
  return std::max<int64_t>(1, kPanelBlockBytes / (depth * kGemmPanelWidth<T> * int64_t(sizeof(T))));
}

// The size of each of the fewest even shares of `count` items holding at most `most` each
// (8 at most 7 per share: 4 + 4, not 7 + 1).
inline int64_t even_share(int64_t count, int64_t most) {
  const int64_t shares = (count + most - 1) / most;
  return (count + shares - 1) / shares;
}

// Runs fn(part, first_image, end_image) for `parts` even shares of `batch` images, the parts in
// parallel (one part: on the calling thread).
template <typename F>
void for_each_image_part(int64_t batch, int64_t parts, const F& fn) {
  if (parts == 1) {
    fn(0, 0, batch);
    return;
  }
  at::parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) fn(part, part * batch / parts, (part + 1) * batch / parts);
  });
}

// The validated sizes plus this backend's way of splitting the work.
// Per-thread scratch (workspace.h): the columns matrix, and the GEMM's [Cout, images*P] output
// (forward) or grad_output gathered into that order (backward).
struct Columns {
  static constexpr const char* name = "conv2d columns";
};
struct Staging {
  static constexpr const char* name = "conv2d staging";
};

struct ConvShape : Conv2dArgs {
  bool direct_gemm() const {
    return is_pointwise() && (batch == 1 || geo.out_area() >= kWideGemm);
  }
  // Images per im2col chunk among `count` images: as many as fit the columns budget (at least
  // one), spread evenly over the chunks (8 images at 7 per chunk run as 4 + 4).
  int64_t chunk(int64_t count) const {
    const int64_t per_image = std::max<int64_t>(1, geo.channels * geo.kernel_area() * geo.out_area());
    const int64_t budget = std::max(kColumnsBudget, out_channels * gemm_k());
    const int64_t images = std::max<int64_t>(count, 1);
    return even_share(images, std::clamp<int64_t>(budget / per_image, 1, images));
  }
  // How many parts the batch is split into, each part's images on one thread (1: the images run
  // in turn, each GEMM parallel inside). Splitting by image needs no synchronisation between
  // the im2col, GEMM and scatter steps, but each thread then reads the whole weight, so it only
  // pays while every part's GEMM stays wide.
  int64_t image_parts() const {
    if (at::in_parallel_region() || direct_gemm()) return 1;
    const int64_t parts = std::min<int64_t>(at::get_num_threads(), batch);
    if (parts < 2 || batch / parts * geo.out_area() < kWideImagePart) return 1;
    return parts;
  }
};

// Runs fn(group) for every group: in parallel across groups when there are several (each GEMM
// then runs on its thread), else once with the GEMM itself parallel.
template <typename F>
void for_each_group(int64_t groups, const F& fn) {
  if (groups == 1) {
    fn(0);
    return;
  }
  at::parallel_for(0, groups, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t grp = lo; grp < hi; ++grp) fn(grp);
  });
}

// out[n][c][p] = src[c][n*P + p] (+ bias[c]) for the images of one chunk.
template <typename T>
void scatter_chunk(const T* __restrict__ src, int64_t images, int64_t out_channels, int64_t P,
                   const T* __restrict__ bias, T* __restrict__ out) {
  const int64_t ld = images * P;
  at::parallel_for(0, images * out_channels, detail::grain_for(P), [&](int64_t lo, int64_t hi) {
    detail::for_each_pair(lo, hi, out_channels, [&](int64_t n, int64_t c, int64_t plane) {
      const T* s = src + c * ld + n * P;
      T* d = out + plane * P;
      const T b = bias ? bias[c] : T(0);
      for (int64_t p = 0; p < P; ++p) d[p] = s[p] + b;
    });
  });
}

// dst[c][n*P + p] = src[n][c][p] for the images of one chunk (the inverse of scatter_chunk).
template <typename T>
void gather_chunk(const T* __restrict__ src, int64_t images, int64_t channels, int64_t P,
                  T* __restrict__ dst) {
  const int64_t ld = images * P;
  at::parallel_for(0, images * channels, detail::grain_for(P), [&](int64_t lo, int64_t hi) {
    detail::for_each_pair(lo, hi, channels, [&](int64_t n, int64_t c, int64_t plane) {
      const T* s = src + plane * P;
      T* d = dst + c * ld + n * P;
      for (int64_t p = 0; p < P; ++p) d[p] = s[p];
    });
  });
}

// out[n][c][p] += bias[c] over contiguous NCHW planes.
template <typename T>
void add_bias(T* __restrict__ out, const T* __restrict__ bias, int64_t images, int64_t channels,
              int64_t P) {
  at::parallel_for(0, images * channels, detail::grain_for(P), [&](int64_t lo, int64_t hi) {
    detail::for_each_pair(lo, hi, channels, [&](int64_t, int64_t c, int64_t plane) {
      const T b = bias[c];
      T* d = out + plane * P;
      for (int64_t p = 0; p < P; ++p) d[p] += b;
    });
  });
}

// grad_bias[c] = sum over images and pixels of grad_out[n][c][p].
template <typename T>
void bias_grad(const T* __restrict__ grad_out, int64_t images, int64_t channels, int64_t P,
               T* __restrict__ grad_bias) {
  constexpr int64_t kLanes = 16;  // independent partial sums, so the inner loop vectorizes
  at::parallel_for(0, channels, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      T lanes[kLanes] = {};
      T tail = 0;
      for (int64_t n = 0; n < images; ++n) {
        const T* s = grad_out + (n * channels + c) * P;
        int64_t p = 0;
        for (; p + kLanes <= P; p += kLanes) {
          for (int64_t l = 0; l < kLanes; ++l) lanes[l] += s[p + l];
        }
        for (; p < P; ++p) tail += s[p];
      }
      for (int64_t l = 0; l < kLanes; ++l) tail += lanes[l];
      grad_bias[c] = tail;
    }
  });
}

template <typename T>
void conv2d_forward_kernel(const ConvShape& s, const ConvTiles& tiles, const T* x, const T* w, const T* bias,
                           T* out) {
  const ConvGeometry& g = s.geo;
  const int64_t P = g.out_area(), K = s.gemm_k(), cin_g = s.in_per_group(),
                cout_g = s.out_per_group();
  const int64_t image_in = g.channels * g.in_area(), image_out = s.out_channels * P;

  if (tiles.forward) {
    winograd_conv3x3<T>(winograd_forward(s), tiles.forward, x, w, false, bias, out);
    return;
  }
  if (s.direct_gemm()) {
    for (int64_t n = 0; n < s.batch; ++n) {
      for_each_group(s.groups, [&](int64_t grp) {
        gemm<T>(cout_g, P, K, T(1), w + grp * cout_g * K, K, 1,
                x + n * image_in + grp * cin_g * P, P, 1, T(0),
                out + n * image_out + grp * cout_g * P, P, 1);
      });
    }
    if (bias) add_bias(out, bias, s.batch, s.out_channels, P);
    return;
  }

  for_each_image_part(s.batch, s.image_parts(), [&](int64_t, int64_t first, int64_t end) {
    const int64_t chunk = s.chunk(end - first);
    // Without groups the columns are never a plain matrix: the GEMM reads them from the padded
    // images (gatherable) or im2col writes them straight into its packed panels, a block at a time.
    const bool panels = s.groups == 1 && im2col_panels_supported(g);
    constexpr int64_t width = kGemmPanelWidth<T>;
    const int64_t block = panel_block<T>(K);
    T* cols = thread_workspace<Columns, T>(g.channels * g.kernel_area() * (panels ? block * width : chunk * P));
    // Several images per chunk: the GEMM writes [Cout, images*P], scattered to NCHW afterwards.
    T* staging = chunk > 1 ? thread_workspace<Staging, T>(s.out_channels * chunk * P) : nullptr;
    std::vector<int64_t> vector_offsets, row_offsets;  // the implicit GEMM's B (Im2colPanels::gathered)
    for (int64_t n0 = first; n0 < end; n0 += chunk) {
      const int64_t images = std::min(chunk, end - n0), ld = images * P;
      T* dst = images > 1 ? staging : out + n0 * image_out;
      if (panels) {
        const Im2colPanels<width, T> source(x + n0 * image_in, images, g);
        const bool gather = source.gatherable();
        GatheredB<T> b{};
        if (gather) b = source.gathered(vector_offsets, row_offsets);
        // Blocks evened out (16 panels at 5 per block run as 4 x 4, not 5 + 5 + 5 + 1).
        const int64_t even = even_share(source.count(), block);
        for (int64_t p0 = 0; p0 < source.count(); p0 += even) {
          const int64_t p1 = std::min(source.count(), p0 + even);
          const int64_t j0 = p0 * width, j1 = std::min(ld, p1 * width);
          if (gather) {  // implicit GEMM: no columns at all
            const GatheredB<T> part{b.source, b.vector_offsets + j0 / kVectorWidth<T>, b.row_offsets};
            gemm_gathered_b<T>(s.out_channels, j1 - j0, K, T(1), w, K, 1, part, T(0), dst + j0, ld);
          } else {
            source.write(p0, p1, cols);
            gemm_prepacked_b<T>(s.out_channels, j1 - j0, K, T(1), w, K, 1, cols, T(0), dst + j0, ld);
          }
        }
      } else {
        im2col(x + n0 * image_in, images, g, cols);
        for_each_group(s.groups, [&](int64_t grp) {
          gemm<T>(cout_g, ld, K, T(1), w + grp * cout_g * K, K, 1, cols + grp * K * ld, ld, 1,
                  T(0), dst + grp * cout_g * ld, ld, 1);
        });
      }
      if (images > 1) {
        scatter_chunk<T>(dst, images, s.out_channels, P, bias, out + n0 * image_out);
      } else if (bias) {
        add_bias(out + n0 * image_out, bias, 1, s.out_channels, P);
      }
    }
  });
}

// Input and weight gradients (either may be null: not asked).
template <typename T>
void conv2d_backward_kernel(const ConvShape& s, const ConvTiles& tiles, const T* gout, const T* x, const T* w,
                            T* grad_in, T* grad_w) {
  const ConvGeometry& g = s.geo;
  const int64_t P = g.out_area(), K = s.gemm_k(), cin_g = s.in_per_group(),
                cout_g = s.out_per_group();
  const int64_t image_in = g.channels * g.in_area(), image_out = s.out_channels * P;

  if (s.direct_gemm()) {
    for (int64_t n = 0; n < s.batch; ++n) {
      const T* go = gout + n * image_out;
      for_each_group(s.groups, [&](int64_t grp) {
        const T* go_g = go + grp * cout_g * P;
        const T* w_g = w + grp * cout_g * K;
        if (grad_w) {  // grad_W_g [Cout_g, Cg] += grad_out_g [Cout_g, P] @ x_g^T [P, Cg]
          gemm<T>(cout_g, K, P, T(1), go_g, P, 1, x + n * image_in + grp * cin_g * P, 1, P,
                  n == 0 ? T(0) : T(1), grad_w + grp * cout_g * K, K, 1);
        }
        if (grad_in) {  // grad_x_g [Cg, P] = W_g^T [Cg, Cout_g] @ grad_out_g [Cout_g, P]
          gemm<T>(K, P, cout_g, T(1), w_g, 1, K, go_g, P, 1, T(0),
                  grad_in + n * image_in + grp * cin_g * P, P, 1);
        }
      });
    }
    return;
  }

  // The input gradient of a 3x3 stride-1 convolution is itself one (over grad_out, with the
  // filters transposed and turned half a circle): Winograd takes it apart from the columns.
  if (grad_in) {
    if (tiles.input_grad) {
      winograd_conv3x3<T>(winograd_input_grad(s), tiles.input_grad, gout, w, true, nullptr, grad_in);
      grad_in = nullptr;
    }
  }
  // Its weight gradient too, by the same transforms summed over tiles.
  if (grad_w) {
    if (tiles.weight_grad) {
      winograd_weight_grad3x3<T>(winograd_forward(s), tiles.weight_grad, x, gout, grad_w);
      grad_w = nullptr;
    }
  }
  if (!grad_in && !grad_w) return;

  const int64_t parts = s.image_parts();
  // Each part after the first sums its weight gradient in its own buffer; they are added to the
  // first part's in part order afterwards, so the result does not depend on thread timing.
  const int64_t weight_numel = s.out_channels * K;
  std::unique_ptr<T[]> partial_grad_w;
  if (grad_w && parts > 1) partial_grad_w.reset(new T[(parts - 1) * weight_numel]);

  for_each_image_part(s.batch, parts, [&](int64_t part, int64_t first, int64_t end) {
    T* part_grad_w = !grad_w  ? nullptr
                     : part == 0 ? grad_w
                                 : partial_grad_w.get() + (part - 1) * weight_numel;
    const int64_t chunk = s.chunk(end - first);
    // One buffer serves both directions: the columns of the input for the weight gradient, then
    // W^T @ grad_out for col2im.
    T* cols = thread_workspace<Columns, T>(g.channels * g.kernel_area() * chunk * P);
    T* gathered = chunk > 1 ? thread_workspace<Staging, T>(s.out_channels * chunk * P) : nullptr;
    for (int64_t n0 = first; n0 < end; n0 += chunk) {
      const int64_t images = std::min(chunk, end - n0), ld = images * P;
      // grad_out of the chunk as [Cout, images*P], matching the columns' column order.
      const T* go = gout + n0 * image_out;
      if (images > 1) {
        gather_chunk(go, images, s.out_channels, P, gathered);
        go = gathered;
      }
      if (part_grad_w) {
        im2col(x + n0 * image_in, images, g, cols);
        const T beta = n0 == first ? T(0) : T(1);
        for_each_group(s.groups, [&](int64_t grp) {
          const T* cols_g = cols + grp * K * ld;
          const T* go_g = go + grp * cout_g * ld;
          T* gw_g = part_grad_w + grp * cout_g * K;
          if (ld >= kLongReduction) {  // grad_W_g^T [K, Cout_g] = columns_g @ grad_out_g^T
            gemm<T>(K, cout_g, ld, T(1), cols_g, ld, 1, go_g, 1, ld, beta, gw_g, 1, K);
          } else {  // grad_W_g [Cout_g, K] = grad_out_g @ columns_g^T
            gemm<T>(cout_g, K, ld, T(1), go_g, ld, 1, cols_g, 1, ld, beta, gw_g, K, 1);
          }
        });
      }
      if (grad_in) {
        for_each_group(s.groups, [&](int64_t grp) {
          gemm<T>(K, ld, cout_g, T(1), w + grp * cout_g * K, 1, K, go + grp * cout_g * ld, ld, 1,
                  T(0), cols + grp * K * ld, ld, 1);
        });
        col2im(cols, images, g, grad_in + n0 * image_in);
      }
    }
  });
  if (partial_grad_w) {
    const T* partial = partial_grad_w.get();
    at::parallel_for(0, weight_numel, 4096, [&](int64_t lo, int64_t hi) {
      for (int64_t part = 1; part < parts; ++part) {
        const T* __restrict__ src = partial + (part - 1) * weight_numel;
        for (int64_t i = lo; i < hi; ++i) grad_w[i] += src[i];
      }
    });
  }
}

}  // namespace

// The entry points of ../conv2d_dispatch.h.
template <typename T>
void conv2d_forward(const Conv2dArgs& args, const ConvTiles& tiles, const T* x, const T* w, const T* bias,
                    T* out) {
  conv2d_forward_kernel<T>(ConvShape{args}, tiles, x, w, bias, out);
}

template <typename T>
void conv2d_backward(const Conv2dArgs& args, const ConvTiles& tiles, const T* gout, const T* x, const T* w,
                     T* grad_in, T* grad_w) {
  conv2d_backward_kernel<T>(ConvShape{args}, tiles, gout, x, w, grad_in, grad_w);
}

template <typename T>
void conv2d_bias_grad(const T* grad_out, int64_t images, int64_t channels, int64_t P, T* grad_bias) {
  bias_grad<T>(grad_out, images, channels, P, grad_bias);
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::Conv2dForwardKernel, conv2d_forward);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::Conv2dBackwardKernel, conv2d_backward);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::Conv2dBiasGradKernel, conv2d_bias_grad);
