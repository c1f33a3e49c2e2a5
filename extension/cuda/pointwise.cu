// The pointwise activations' CUDA kernels: one grid-stride kernel, flat or strided, runs any
// functor of ../pointwise_functors.h in the accumulate type with CUDA's math functions.
#include "cuda_utils.cuh"
#include "pointwise.h"

namespace torchext::cuda {
namespace {

// The functors' math policy on the device.
struct DeviceMath {
  static __host__ __device__ float exp(float x) { return ::expf(x); }
  static __host__ __device__ double exp(double x) { return ::exp(x); }
  static __host__ __device__ float tanh(float x) { return ::tanhf(x); }
  static __host__ __device__ double tanh(double x) { return ::tanh(x); }
  static __host__ __device__ float erf(float x) { return ::erff(x); }
  static __host__ __device__ double erf(double x) { return ::erf(x); }
  // As the CPU's: exp of -|x| only, so neither tail overflows or cancels.
  template <typename A>
  static __host__ __device__ A sigmoid(A x) {
    const A e = exp(x < A(0) ? x : -x);
    const A s = A(1) / (A(1) + e);
    return x >= A(0) ? s : e * s;
  }
};

template <typename Op>
struct Forward {
  Op op;
  template <typename A> __device__ A operator()(A x) const { return op.template forward<DeviceMath>(x); }
};
template <typename Op>
struct Backward {
  Op op;
  template <typename A> __device__ A operator()(A g, A s) const {
    return op.template backward<DeviceMath>(g, s);
  }
};
template <typename Op>
struct DoubleBackward {
  Op op;
  template <typename A> __device__ A operator()(A gg, A g, A s) const {
    return op.template double_backward<DeviceMath>(gg, g, s);
  }
};

template <typename T, int N>
struct Operands {
  const T* ptr[N];
};

template <typename T, typename F>
__device__ T apply(const F& f, const acc_t<T> (&v)[1]) { return static_cast<T>(f(v[0])); }
template <typename T, typename F>
__device__ T apply(const F& f, const acc_t<T> (&v)[2]) { return static_cast<T>(f(v[0], v[1])); }
template <typename T, typename F>
__device__ T apply(const F& f, const acc_t<T> (&v)[3]) {
  return static_cast<T>(f(v[0], v[1], v[2]));
}

template <typename T, int N, typename F>
__global__ void pointwise_flat_kernel(Operands<T, N> in, T* out, int64_t n, F f) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    acc_t<T> v[N];
    for (int k = 0; k < N; ++k) v[k] = static_cast<acc_t<T>>(in.ptr[k][i]);
    out[i] = apply<T>(f, v);
  }
}

template <typename T, int N, typename F>
__global__ void pointwise_strided_kernel(Operands<T, N> in, T* out, int64_t n,
                                         StridedIndexer<N> ix, F f) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[N];
    ix.offsets(i, off);
    acc_t<T> v[N];
    for (int k = 0; k < N; ++k) v[k] = static_cast<acc_t<T>>(in.ptr[k][off[k]]);
    out[i] = apply<T>(f, v);
  }
}

template <typename T, typename Op>
__global__ void pointwise_keep_kernel(T* self, T* __restrict__ saved, int64_t n, Forward<Op> f) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const T x = self[i];
    saved[i] = x;
    self[i] = static_cast<T>(f(static_cast<acc_t<T>>(x)));
  }
}

template <typename T, int N, typename F>
void launch(const Operands<T, N>& in, T* out, int64_t n, bool flat, const StridedIndexer<N>& ix,
            const F& f) {
  if (n == 0) return;
  if (flat)
    pointwise_flat_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(in, out, n, f);
  else
    pointwise_strided_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(in, out, n, ix, f);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

template <typename T, typename Op>
void pointwise_forward_launch(const Op& op, const T* in, T* out, int64_t n, bool flat,
                              const StridedIndexer<1>& ix) {
  launch(Operands<T, 1>{{in}}, out, n, flat, ix, Forward<Op>{op});
}

template <typename T, typename Op>
void pointwise_backward_launch(const Op& op, const T* grad, const T* saved, T* out, int64_t n,
                               bool flat, const StridedIndexer<2>& ix) {
  launch(Operands<T, 2>{{grad, saved}}, out, n, flat, ix, Backward<Op>{op});
}

template <typename T, typename Op>
void pointwise_double_backward_launch(const Op& op, const T* grad_grad, const T* grad,
                                      const T* saved, T* out, int64_t n, bool flat,
                                      const StridedIndexer<3>& ix) {
  launch(Operands<T, 3>{{grad_grad, grad, saved}}, out, n, flat, ix, DoubleBackward<Op>{op});
}

template <typename T, typename Op>
void pointwise_forward_keep_launch(const Op& op, T* self, T* saved, int64_t n) {
  if (n == 0) return;
  pointwise_keep_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(self, saved, n, Forward<Op>{op});
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// Every op gets forward and backward; _KEEP where an in-place form keeps its input, _SECOND_ORDER
// where it has a double backward (as the CPU's registrations, cpu/pointwise_dispatch.h).
#define POINTWISE(Op, T)                                                                         \
  template void pointwise_forward_launch<T, Op<acc_t<T>>>(const Op<acc_t<T>>&, const T*, T*,     \
                                                          int64_t, bool, const StridedIndexer<1>&); \
  template void pointwise_backward_launch<T, Op<acc_t<T>>>(                                      \
      const Op<acc_t<T>>&, const T*, const T*, T*, int64_t, bool, const StridedIndexer<2>&);
#define POINTWISE_KEEP(Op, T) \
  template void pointwise_forward_keep_launch<T, Op<acc_t<T>>>(const Op<acc_t<T>>&, T*, T*, int64_t);
#define POINTWISE_SECOND_ORDER(Op, T)                                                    \
  template void pointwise_double_backward_launch<T, Op<acc_t<T>>>(                       \
      const Op<acc_t<T>>&, const T*, const T*, const T*, T*, int64_t, bool,              \
      const StridedIndexer<3>&);
#define INSTANTIATE(T)                                 \
  POINTWISE(pointwise::Sigmoid, T)                     \
  POINTWISE_SECOND_ORDER(pointwise::Sigmoid, T)        \
  POINTWISE(pointwise::Silu, T)                        \
  POINTWISE_KEEP(pointwise::Silu, T)                   \
  POINTWISE_SECOND_ORDER(pointwise::Silu, T)           \
  POINTWISE(pointwise::Hardtanh, T)                    \
  POINTWISE(pointwise::Hardswish, T)                   \
  POINTWISE_KEEP(pointwise::Hardswish, T)              \
  POINTWISE_SECOND_ORDER(pointwise::Hardswish, T)      \
  POINTWISE(pointwise::Hardsigmoid, T)                 \
  POINTWISE_KEEP(pointwise::Hardsigmoid, T)            \
  POINTWISE(pointwise::Gelu, T)                        \
  POINTWISE_SECOND_ORDER(pointwise::Gelu, T)           \
  POINTWISE(pointwise::GeluTanh, T)                    \
  POINTWISE_SECOND_ORDER(pointwise::GeluTanh, T)
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE
#undef POINTWISE_SECOND_ORDER
#undef POINTWISE_KEEP
#undef POINTWISE

}  // namespace torchext::cuda
