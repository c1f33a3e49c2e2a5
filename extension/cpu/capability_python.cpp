// torchext._C's functions behind torchext.backends.cpu: the capability in use, the ones this CPU
// supports, and switching (dispatch.h). Errors come back as RuntimeError with torchext's message.
#include <Python.h>
#include <c10/util/Exception.h>

#include "dispatch.h"

namespace torchext::cpu {
namespace {

template <typename F>
PyObject* guarded(const F& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

PyObject* capability(PyObject*, PyObject*) {
  return guarded([] { return PyUnicode_FromString(cpu_capability_name(active_cpu_capability())); });
}

PyObject* supported_capabilities(PyObject*, PyObject*) {
  return guarded([] {
    PyObject* list = PyList_New(0);
    for (int c = 0; list && c < kCpuCapabilities; ++c) {
      if (!cpu_supports(CpuCapability(c))) continue;
      PyObject* name = PyUnicode_FromString(cpu_capability_name(CpuCapability(c)));
      if (!name || PyList_Append(list, name) != 0) Py_CLEAR(list);
      Py_XDECREF(name);
    }
    return list;
  });
}

PyObject* set_capability(PyObject*, PyObject* arg) {
  return guarded([arg]() -> PyObject* {
    const char* name = PyUnicode_AsUTF8(arg);
    if (!name) return nullptr;
    set_cpu_capability(cpu_capability_from_name(name, "set_capability"));
    Py_RETURN_NONE;
  });
}

PyMethodDef methods[] = {
    {"cpu_capability", capability, METH_NOARGS, "The CPU capability whose kernels run."},
    {"supported_cpu_capabilities", supported_capabilities, METH_NOARGS,
     "The CPU capabilities this CPU can run, baseline first."},
    {"set_cpu_capability", set_capability, METH_O, "Switches the CPU kernels to a capability."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

PyMethodDef* capability_methods() { return methods; }

}  // namespace torchext::cpu
