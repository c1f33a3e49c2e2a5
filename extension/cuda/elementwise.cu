// add/sub/mul/div/pow with broadcasting, the tensor-scalar ops add/rsub/mul/pow/div/rdiv and
// pow's backward (CUDA kernels).
// Arithmetic is done in the accumulate type (float for half/bfloat16), as torch's own kernels.
#include "cuda_utils.cuh"
#include "elementwise.h"

namespace torchext::cuda {
namespace {

template <typename T>
struct AddFn {  // a + alpha * b
  acc_t<T> alpha;
  __device__ T operator()(T a, T b) const {
    return static_cast<T>(fused_mul_add(alpha, static_cast<acc_t<T>>(b), static_cast<acc_t<T>>(a)));
  }
};

template <typename T>
struct MulFn {
  __device__ T operator()(T a, T b) const {
    return static_cast<T>(static_cast<acc_t<T>>(a) * static_cast<acc_t<T>>(b));
  }
};

template <typename T>
struct DivFn {
  __device__ T operator()(T a, T b) const {
    return static_cast<T>(static_cast<acc_t<T>>(a) / static_cast<acc_t<T>>(b));
  }
};

template <typename T>
struct PowFn {
  __device__ T operator()(T a, T b) const {
    return static_cast<T>(pow(static_cast<acc_t<T>>(a), static_cast<acc_t<T>>(b)));
  }
};

template <typename T, typename F>
__global__ void binary_contiguous_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                         T* __restrict__ out, int64_t n, F f) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) out[i] = f(a[i], b[i]);
}

template <typename T, typename F>
__global__ void binary_strided_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                      T* __restrict__ out, int64_t n, StridedIndexer<2> ix, F f) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[2];
    ix.offsets(i, off);
    out[i] = f(a[off[0]], b[off[1]]);
  }
}

template <typename T, typename F>
void launch_binary(const T* a, const T* b, T* out, int64_t n, const StridedIndexer<2>& ix, F f) {
  const bool contiguous =
      ix.ndim == 0 || (ix.ndim == 1 && ix.strides[0][0] == 1 && ix.strides[1][0] == 1);
  if (contiguous)
    binary_contiguous_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(a, b, out, n, f);
  else
    binary_strided_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(a, b, out, n, ix, f);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
struct AddScalarFn {  // x + alpha * s
  acc_t<T> alpha, s;
  __device__ T operator()(T x) const {
    return static_cast<T>(fused_mul_add(alpha, s, static_cast<acc_t<T>>(x)));
  }
};

template <typename T>
struct RSubScalarFn {  // s - alpha * x
  acc_t<T> alpha, s;
  __device__ T operator()(T x) const {
    return static_cast<T>(fused_mul_add(-alpha, static_cast<acc_t<T>>(x), s));
  }
};

template <typename T>
struct DivScalarFn {  // x / s
  acc_t<T> s;
  __device__ T operator()(T x) const { return static_cast<T>(static_cast<acc_t<T>>(x) / s); }
};

template <typename T>
struct RDivScalarFn {  // s / x
  acc_t<T> s;
  __device__ T operator()(T x) const { return static_cast<T>(s / static_cast<acc_t<T>>(x)); }
};

template <typename T>
struct MulScalarFn {
  acc_t<T> s;
  __device__ T operator()(T x) const { return static_cast<T>(static_cast<acc_t<T>>(x) * s); }
};

// x ** e with torch's special cases: the integer powers 2, 3 and -2 are products in T (each
// product rounded to T, as native), +-0.5 and -1 are sqrt, rsqrt and reciprocal, 0 and 1 are
// exact, anything else is pow() with the exponent rounded to T first.
enum class PowKind { Zero, One, Sqrt, RSqrt, Reciprocal, Square, Cube, InvSquare, General };

template <typename T>
struct PowScalarFn {
  PowKind kind;
  acc_t<T> e;
  __device__ T operator()(T x) const {
    using A = acc_t<T>;
    const A a = static_cast<A>(x);
    switch (kind) {
      case PowKind::Zero: return T(1);
      case PowKind::One: return x;
      case PowKind::Sqrt: return static_cast<T>(sqrt(a));
      case PowKind::RSqrt: return static_cast<T>(rsqrt(a));
      case PowKind::Reciprocal: return static_cast<T>(A(1) / a);
      case PowKind::Square: return static_cast<T>(a * a);
      case PowKind::Cube: return static_cast<T>(static_cast<A>(static_cast<T>(a * a)) * a);
      case PowKind::InvSquare: return static_cast<T>(1.0 / static_cast<double>(static_cast<T>(a * a)));
      default: return static_cast<T>(pow(a, e));
    }
  }
};

// raw: the exponent as given; rounded: converted to T (torch tests the integer powers on it).
PowKind pow_kind(double raw, double rounded) {
  if (raw == 0.0) return PowKind::Zero;
  if (raw == 1.0) return PowKind::One;
  if (raw == 0.5) return PowKind::Sqrt;
  if (raw == -0.5) return PowKind::RSqrt;
  if (raw == -1.0) return PowKind::Reciprocal;
  if (rounded == 2.0) return PowKind::Square;
  if (rounded == 3.0) return PowKind::Cube;
  if (rounded == -2.0) return PowKind::InvSquare;
  return PowKind::General;
}

template <typename T, typename F>
__global__ void unary_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t n, F f) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) out[i] = f(in[i]);
}

template <typename T, typename F>
void launch_unary(const T* in, T* out, int64_t n, F f) {
  unary_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(in, out, n, f);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
__global__ void pow_backward_kernel(bool exponent_grad, const T* __restrict__ grad,
                                    const T* __restrict__ self, const T* __restrict__ exponent,
                                    const T* __restrict__ fourth, T* __restrict__ out, int64_t n,
                                    StridedIndexer<4> ix) {
  using A = acc_t<T>;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[4];
    ix.offsets(i, off);
    const A g = static_cast<A>(grad[off[0]]), x = static_cast<A>(self[off[1]]);
    const A e = static_cast<A>(exponent[off[2]]);
    A v;
    if (exponent_grad) {
      v = g * ((x == A(0) && e >= A(0)) ? A(0) : static_cast<A>(fourth[off[3]]) * log(x));
    } else {
      v = e == A(0) ? A(0) : g * (e * pow(x, static_cast<A>(fourth[off[3]])));
    }
    out[i] = static_cast<T>(v);
  }
}

}  // namespace

template <typename T>
void pow_backward_launch(bool exponent_grad, const T* grad, const T* self, const T* exponent,
                         const T* fourth, T* out, int64_t n, const StridedIndexer<4>& ix) {
  if (n == 0) return;
  pow_backward_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(exponent_grad, grad, self, exponent,
                                                                    fourth, out, n, ix);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void binary_launch(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                   const StridedIndexer<2>& ix, double alpha) {
  if (n == 0) return;
  switch (op) {
    case BinaryOp::Add: return launch_binary(a, b, out, n, ix, AddFn<T>{static_cast<acc_t<T>>(alpha)});
    case BinaryOp::Mul: return launch_binary(a, b, out, n, ix, MulFn<T>{});
    case BinaryOp::Div: return launch_binary(a, b, out, n, ix, DivFn<T>{});
    case BinaryOp::Pow: return launch_binary(a, b, out, n, ix, PowFn<T>{});
  }
}

template <typename T>
void scalar_op_launch(ScalarOp op, const T* in, T* out, int64_t n, double other, double alpha) {
  if (n == 0) return;
  using A = acc_t<T>;
  const A s = static_cast<A>(other);
  switch (op) {
    case ScalarOp::Add: return launch_unary(in, out, n, AddScalarFn<T>{static_cast<A>(alpha), s});
    case ScalarOp::RSub: return launch_unary(in, out, n, RSubScalarFn<T>{static_cast<A>(alpha), s});
    case ScalarOp::Mul: return launch_unary(in, out, n, MulScalarFn<T>{s});
    case ScalarOp::Div: return launch_unary(in, out, n, DivScalarFn<T>{s});
    case ScalarOp::RDiv: return launch_unary(in, out, n, RDivScalarFn<T>{s});
    case ScalarOp::Pow: {
      // torch converts the exponent to the tensor's dtype before using it.
      const A e = static_cast<A>(static_cast<T>(other));
      return launch_unary(in, out, n, PowScalarFn<T>{pow_kind(other, static_cast<double>(e)), e});
    }
  }
}

#define INSTANTIATE(T)                                                                           \
  template void binary_launch<T>(BinaryOp, const T*, const T*, T*, int64_t,                      \
                                 const StridedIndexer<2>&, double);                              \
  template void scalar_op_launch<T>(ScalarOp, const T*, T*, int64_t, double, double);            \
  template void pow_backward_launch<T>(bool, const T*, const T*, const T*, const T*, T*, int64_t,  \
                                       const StridedIndexer<4>&);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
