// Every torchext op schema, in one place. Kernels register themselves per backend
// (TORCH_LIBRARY_IMPL(torchext, CPU|CUDA, m)) in extension/cpu/*.cpp and extension/cuda/*.cu;
// fake (meta) kernels and autograd Functions live in torchext/functions/.
#include <Python.h>
#include <torch/library.h>

namespace torchext::cpu {
PyMethodDef* capability_methods();  // cpu/capability_python.cpp
PyMethodDef* conv2d_methods();      // cpu/conv2d_python.cpp
}  // namespace torchext::cpu

// `import torchext._C` loads this library, which runs the registrations below as a side effect;
// the module's own functions are torchext.backends.cpu's (and the benchmark's FMA peak).
extern "C" PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1,
                                      torchext::cpu::capability_methods()};
  PyObject* m = PyModule_Create(&module);
  if (m && PyModule_AddFunctions(m, torchext::cpu::conv2d_methods()) != 0) Py_CLEAR(m);
  return m;
}

TORCH_LIBRARY(torchext, m) {
  // Elementwise, with full broadcasting and float32/float64 type promotion.
  m.def("add(Tensor self, Tensor other, Scalar alpha=1) -> Tensor");            // self + alpha*other
  m.def("sub(Tensor self, Tensor other, Scalar alpha=1) -> Tensor");            // self - alpha*other
  m.def("mul(Tensor self, Tensor other) -> Tensor");
  m.def("add_scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor");     // self + alpha*other
  m.def("rsub_scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor");    // other - alpha*self
  m.def("mul_scalar(Tensor self, Scalar other) -> Tensor");
  m.def("pow_scalar(Tensor self, Scalar exponent) -> Tensor");
  m.def("relu(Tensor self) -> Tensor");
  m.def("relu_(Tensor(a!) self) -> ()");
  m.def("relu_backward(Tensor grad_output, Tensor result) -> Tensor");          // grad * (result > 0)
  m.def("add_relu(Tensor self, Tensor other) -> Tensor");                       // relu(self + other)

  // Pointwise activations (pointwise_functors.h). Backward ops take the input as `self` (the
  // output for sigmoid, and for the in-place hardtanh_'s backward), double_backward ops return
  // grad_grad times the derivative of the backward w.r.t. that saved tensor. The in-place forms
  // whose backward needs the input return a copy of it taken in the same pass when keep_input
  // (else an empty tensor).
  m.def("sigmoid(Tensor self) -> Tensor");
  m.def("sigmoid_(Tensor(a!) self) -> ()");
  m.def("sigmoid_backward(Tensor grad_output, Tensor output) -> Tensor");
  m.def("sigmoid_double_backward(Tensor grad_grad, Tensor grad_output, Tensor output) -> Tensor");
  m.def("silu(Tensor self) -> Tensor");
  m.def("silu_(Tensor(a!) self, bool keep_input) -> Tensor");
  m.def("silu_backward(Tensor grad_output, Tensor self) -> Tensor");
  m.def("silu_double_backward(Tensor grad_grad, Tensor grad_output, Tensor self) -> Tensor");
  m.def("hardtanh(Tensor self, float min_val, float max_val) -> Tensor");
  m.def("hardtanh_(Tensor(a!) self, float min_val, float max_val) -> ()");
  m.def("hardtanh_backward(Tensor grad_output, Tensor self, float min_val, float max_val) -> Tensor");
  m.def("hardswish(Tensor self) -> Tensor");
  m.def("hardswish_(Tensor(a!) self, bool keep_input) -> Tensor");
  m.def("hardswish_backward(Tensor grad_output, Tensor self) -> Tensor");
  m.def("hardswish_double_backward(Tensor grad_grad, Tensor grad_output, Tensor self) -> Tensor");
  m.def("hardsigmoid(Tensor self) -> Tensor");
  m.def("hardsigmoid_(Tensor(a!) self, bool keep_input) -> Tensor");
  m.def("hardsigmoid_backward(Tensor grad_output, Tensor self) -> Tensor");
  m.def("gelu(Tensor self, str approximate) -> Tensor");                         // 'none' | 'tanh'
  m.def("gelu_backward(Tensor grad_output, Tensor self, str approximate) -> Tensor");
  m.def("gelu_double_backward(Tensor grad_grad, Tensor grad_output, Tensor self, str approximate) -> Tensor");

  // Reductions and linear algebra.
  m.def("sum(Tensor self, int[]? dim=None, bool keepdim=False, ScalarType? dtype=None) -> Tensor");
  m.def("matmul(Tensor self, Tensor other) -> Tensor");

  // Loss. reduction: 0 none, 1 mean, 2 sum (as at::Reduction).
  m.def("binary_cross_entropy_with_logits(Tensor self, Tensor target, Tensor? weight=None, "
        "Tensor? pos_weight=None, int reduction=1) -> Tensor");
  m.def("binary_cross_entropy_with_logits_backward(Tensor grad_output, Tensor self, Tensor target, "
        "Tensor? weight, Tensor? pos_weight, int reduction, bool[2] output_mask) -> (Tensor, Tensor)");

  // Convolution and linear. padding is (top, bottom, left, right) so that 'same' with an even
  // kernel (asymmetric padding) needs no extra pass. Backward returns undefined tensors for the
  // gradients output_mask does not ask for.
  m.def("conv2d(Tensor input, Tensor weight, Tensor? bias, int[2] stride, int[4] padding, "
        "int[2] dilation, int groups) -> Tensor");
  m.def("conv2d_backward(Tensor grad_output, Tensor input, Tensor weight, int[2] stride, "
        "int[4] padding, int[2] dilation, int groups, bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
  m.def("linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor");
  m.def("linear_backward(Tensor grad_output, Tensor input, Tensor weight, bool[3] output_mask) "
        "-> (Tensor, Tensor, Tensor)");

  // Batch normalisation. In training, running stats (when given) are updated in place with
  // `momentum` as the exponential average factor; save_mean/save_invstd feed the backward.
  m.def("batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor(a!)? running_mean, "
        "Tensor(b!)? running_var, bool training, float momentum, float eps) "
        "-> (Tensor, Tensor, Tensor)");
  m.def("batch_norm_backward(Tensor grad_output, Tensor input, Tensor? weight, Tensor? running_mean, "
        "Tensor? running_var, Tensor save_mean, Tensor save_invstd, bool training, float eps, "
        "bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
  // relu(batch_norm(input) + residual) in one pass (residual optional), and its backward from the
  // forward's output; output_mask: input, residual, weight, bias.
  m.def("batch_norm_relu(Tensor input, Tensor? residual, Tensor? weight, Tensor? bias, "
        "Tensor(a!)? running_mean, Tensor(b!)? running_var, bool training, float momentum, "
        "float eps) -> (Tensor, Tensor, Tensor)");
  m.def("batch_norm_relu_backward(Tensor grad_output, Tensor output, Tensor input, Tensor? weight, "
        "Tensor? running_mean, Tensor? running_var, Tensor save_mean, Tensor save_invstd, "
        "bool training, float eps, bool[4] output_mask) -> (Tensor, Tensor, Tensor, Tensor)");

  // Layer normalisation over the trailing normalized_shape dims; mean and rstd (shaped as
  // native's: the leading dims, then 1s) feed the backward. Dropout draws its mask from the
  // generator state rng_state (a CPU uint8 tensor as torch.get_rng_state() or
  // torch.cuda.get_rng_state() gives) and returns the advanced state; stochastic_depth drops whole
  // samples (row) or the whole batch. The mask (uint8) feeds dropout_backward. Dropout's p = 1
  // keeps nothing without drawing, as native.
  m.def("layer_norm(Tensor input, int[] normalized_shape, Tensor? weight, Tensor? bias, float eps) "
        "-> (Tensor, Tensor, Tensor)");
  m.def("layer_norm_backward(Tensor grad_output, Tensor input, int[] normalized_shape, Tensor mean, "
        "Tensor rstd, Tensor? weight, bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
  m.def("dropout(Tensor input, float p, Tensor rng_state) -> (Tensor, Tensor, Tensor)");
  m.def("dropout_(Tensor(a!) self, float p, Tensor rng_state) -> (Tensor, Tensor)");  // mask, state
  m.def("stochastic_depth(Tensor input, float p, bool row, Tensor rng_state) -> (Tensor, Tensor, Tensor)");
  m.def("dropout_backward(Tensor grad_output, Tensor mask, float p) -> Tensor");

  // softmax/log_softmax over dim (dtype: convert the input first, as native); the backward from
  // the output, the input gradient in input_dtype. scaled_dot_product_attention: the fused
  // kernel (online softmax over key blocks), returning the output and each query row's logsumexp
  // (-inf for a fully masked row), from which the backward recomputes the probabilities; it
  // returns dq, dk, dv and, when mask_grad, the scores' gradient (batch..., L, S) for a floating
  // attn_mask to be summed to the mask's shape.
  m.def("softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor");
  m.def("softmax_backward(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor");
  m.def("log_softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor");
  m.def("log_softmax_backward(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor");
  m.def("scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask, "
        "bool is_causal, float? scale, bool enable_gqa) -> (Tensor, Tensor)");
  m.def("scaled_dot_product_attention_backward(Tensor grad_out, Tensor query, Tensor key, Tensor value, "
        "Tensor? attn_mask, Tensor out, Tensor lse, bool is_causal, float? scale, bool enable_gqa, "
        "bool mask_grad) -> (Tensor, Tensor, Tensor, Tensor)");

  // Pooling.
  m.def("max_pool2d(Tensor self, int[2] kernel_size, int[2] stride, int[2] padding, "
        "int[2] dilation, bool ceil_mode) -> (Tensor, Tensor)");
  m.def("max_pool2d_backward(Tensor grad_output, Tensor self, Tensor indices) -> Tensor");
  // The backward's own derivative: grad_grad_input gathered at the indices (output's shape).
  m.def("max_pool2d_double_backward(Tensor grad_grad_input, Tensor indices) -> Tensor");
  m.def("adaptive_avg_pool2d(Tensor self, int[2] output_size) -> Tensor");
  m.def("adaptive_avg_pool2d_backward(Tensor grad_output, Tensor self) -> Tensor");

  // The structural ops of torchvision's CNNs (DenseNet, Inception, SqueezeNet, ShuffleNet, SE
  // blocks): concatenation, average pooling (divisor_override None: the window's count), mean,
  // true division and pow with a tensor exponent (its backward: both gradients over the broadcast
  // shape, output_mask: self, exponent).
  m.def("cat(Tensor[] tensors, int dim=0) -> Tensor");
  m.def("avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride, int[2] padding, bool ceil_mode, "
        "bool count_include_pad, int? divisor_override) -> Tensor");
  m.def("avg_pool2d_backward(Tensor grad_output, Tensor self, int[2] kernel_size, int[2] stride, "
        "int[2] padding, bool ceil_mode, bool count_include_pad, int? divisor_override) -> Tensor");
  m.def("mean(Tensor self, int[]? dim=None, bool keepdim=False, ScalarType? dtype=None) -> Tensor");
  m.def("div(Tensor self, Tensor other) -> Tensor");
  m.def("div_scalar(Tensor self, Scalar other) -> Tensor");                     // self / other
  m.def("rdiv_scalar(Tensor self, Scalar other) -> Tensor");                    // other / self
  m.def("pow(Tensor self, Tensor exponent) -> Tensor");
  m.def("pow_backward(Tensor grad_output, Tensor self, Tensor exponent, Tensor result, "
        "bool[2] output_mask) -> (Tensor, Tensor)");

  // Optimizer: one fused multi-tensor SGD step over every parameter of a group (as
  // torch.optim.SGD). `first_step` says the momentum buffers are fresh: buf = grad.
  m.def("sgd_step_(Tensor(a!)[] params, Tensor[] grads, Tensor(b!)[] momentum_buffers, float lr, "
        "float momentum, float dampening, float weight_decay, bool nesterov, bool maximize, "
        "bool first_step) -> ()");
}
