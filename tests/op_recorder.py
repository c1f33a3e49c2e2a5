"""A TorchDispatchMode that records every op reaching the dispatcher, to prove that only
torchext ops compute while the rest is allocation, views, copies and fills."""
import torch
from torch.utils._python_dispatch import TorchDispatchMode

# aten ops that do no arithmetic: allocation, views, copies (incl. dtype casts) and fills.
ALLOCATION = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros",
              "zeros_like", "ones", "ones_like", "full", "full_like", "new_zeros", "new_ones",
              "new_full", "scalar_tensor", "lift_fresh", "eye", "_local_scalar_dense"}
VIEWS = {"view", "_unsafe_view", "as_strided", "t", "transpose", "expand", "unsqueeze", "squeeze",
         "permute", "alias", "detach", "select", "slice", "_reshape_alias", "reshape", "view_as",
         "unflatten", "flatten", "split", "narrow", "set_"}
COPIES = {"copy_", "clone", "_to_copy", "contiguous", "lift_fresh_copy", "_copy_from"}
FILLS = {"fill_", "zero_"}
NON_COMPUTE = ALLOCATION | VIEWS | COPIES | FILLS


class OpRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        return func(*args, **(kwargs or {}))

    def native_compute_ops(self, extra_allowed=()):
        """aten ops seen that are neither torchext ops nor in the non-compute set."""
        found = set()
        for op in self.ops:
            namespace = op.namespace
            name = op._schema.name.split("::")[-1]
            if namespace == "torchext":
                continue
            if namespace == "aten" and (name in NON_COMPUTE or name in extra_allowed):
                continue
            found.add(str(op))
        return sorted(found)

    def torchext_ops(self):
        return sorted({op._schema.name for op in self.ops if op.namespace == "torchext"})
