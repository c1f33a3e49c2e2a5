"""A TorchDispatchMode that records every op reaching the dispatcher, to prove that only
torchext ops compute while the rest is allocation, views, copies and fills (the tests and
`python -m torchext coverage` use it)."""
import collections

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# aten ops that do no arithmetic: allocation, views, copies (incl. dtype casts) and fills.
ALLOCATION = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros",
              "zeros_like", "ones", "ones_like", "full", "full_like", "new_zeros", "new_ones",
              "new_full", "scalar_tensor", "lift_fresh", "eye", "_local_scalar_dense"}
VIEWS = {"view", "_unsafe_view", "as_strided", "t", "transpose", "expand", "unsqueeze", "squeeze",
         "permute", "alias", "detach", "select", "slice", "_reshape_alias", "reshape", "view_as",
         "unflatten", "flatten", "split", "split_with_sizes", "narrow", "set_"}
COPIES = {"copy_", "clone", "_to_copy", "contiguous", "lift_fresh_copy", "_copy_from"}
FILLS = {"fill_", "zero_"}
NON_COMPUTE = ALLOCATION | VIEWS | COPIES | FILLS


class OpRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []
        self._targets = []  # storage of each op's first tensor argument
        self._torchext_args = []  # (op name, args) of each torchext op

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        if func.namespace == "torchext":
            self._torchext_args.append((func._schema.name.split("::")[-1], args))
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self._targets.append(first.untyped_storage().data_ptr() if first is not None else None)
        return func(*args, **(kwargs or {}))

    def torchext_calls(self, name):
        """The arguments of every call of the torchext op `name`, in order."""
        return [args for op, args in self._torchext_args if op == name]

    def native_compute_counts(self, gradients=(), counters=()):
        """How many times each aten op that is neither a torchext op nor in the non-compute set
        ran. `gradients` lists .grad tensors that the autograd engine may accumulate into with
        add_ (its gradient accumulation, not an op of the program); `counters` lists integer
        buffers a module counts in with add_ (BatchNorm's num_batches_tracked: bookkeeping)."""
        exempt = {g.untyped_storage().data_ptr() for g in (*gradients, *counters)}
        found = collections.Counter()
        for op, target in zip(self.ops, self._targets):
            namespace = op.namespace
            name = op._schema.name.split("::")[-1]
            if namespace == "torchext":
                continue
            if namespace == "aten" and name in NON_COMPUTE:
                continue
            if namespace == "aten" and name == "add_" and target in exempt:
                continue
            found[str(op)] += 1
        return found

    def native_compute_ops(self, gradients=(), counters=()):
        """The names of native_compute_counts' ops, sorted."""
        return sorted(self.native_compute_counts(gradients, counters))

    def torchext_count(self):
        """How many torchext ops ran."""
        return sum(1 for op in self.ops if op.namespace == "torchext")

    def torchext_ops(self):
        return sorted({op._schema.name for op in self.ops if op.namespace == "torchext"})


def engine_gradient_sums(*outputs):
    """How many additions the autograd engine makes in a backward from `outputs`: where k edges of
    the graph lead into the same input of a node (a tensor used k times in the forward), it sums
    the k gradients (k - 1 aten adds, its own accumulation, not an op of the program)."""
    uses = collections.Counter()
    seen = set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for child, input_nr in node.next_functions:
            if child is not None:
                uses[(child, input_nr)] += 1
                stack.append(child)
    return sum(k - 1 for k in uses.values())
