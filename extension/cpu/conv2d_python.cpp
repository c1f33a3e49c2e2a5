// torchext._C's functions behind torchext.backends.cpu's convolution switches (allow_winograd,
// conv_algorithm: conv2d_algorithm.h) and the benchmark's FMA peak (fma_peak_dispatch.h).
#include <Python.h>

#include "conv2d_algorithm.h"
#include "fma_peak_dispatch.h"

namespace torchext::cpu {
namespace {

// (allow_winograd, conv_algorithm).
PyObject* conv_settings_get(PyObject*, PyObject*) {
  const auto& s = conv_settings();
  return Py_BuildValue("(Oi)", s.allow_winograd.load() ? Py_True : Py_False, s.algorithm.load());
}

PyObject* conv_settings_set(PyObject*, PyObject* args) {
  int allow = 0, algorithm = 0;
  if (!PyArg_ParseTuple(args, "pi", &allow, &algorithm)) return nullptr;
  if (algorithm < 0 || algorithm > static_cast<int>(ConvAlgorithm::kDepthwise)) {
    PyErr_Format(PyExc_ValueError, "torchext: unknown convolution algorithm %d", algorithm);
    return nullptr;
  }
  auto& s = conv_settings();
  s.allow_winograd.store(allow != 0);
  s.algorithm.store(algorithm);
  Py_RETURN_NONE;
}

// GFLOP/s of a register-only FMA loop on every thread, in the capability in use.
PyObject* fma_peak(PyObject*, PyObject* args) {
  long long iterations = 0;
  if (!PyArg_ParseTuple(args, "L", &iterations)) return nullptr;
  if (iterations <= 0) {
    PyErr_Format(PyExc_ValueError, "torchext: expected a positive iteration count but got %lld", iterations);
    return nullptr;
  }
  auto* kernel = DispatchStub<FmaPeakKernel>::get();
  double gflops = 0;
  Py_BEGIN_ALLOW_THREADS gflops = kernel(iterations);
  Py_END_ALLOW_THREADS return PyFloat_FromDouble(gflops);
}

PyMethodDef methods[] = {
    {"_conv_settings", conv_settings_get, METH_NOARGS, "(allow_winograd, conv_algorithm)"},
    {"_set_conv_settings", conv_settings_set, METH_VARARGS, "set (allow_winograd, conv_algorithm)"},
    {"_fma_peak_gflops", fma_peak, METH_VARARGS, "GFLOP/s of a register-only FMA loop on every thread"},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

PyMethodDef* conv2d_methods() { return methods; }

}  // namespace torchext::cpu
