"""vmap batching rules for every torch.ops.torchext op (torch.library.register_vmap, which works
for our C++-defined ops). The Functions' generated vmap rules run their forward and backward on
batched tensors, so these rules are what torch.func.vmap (and jacrev, jacfwd, per-sample
gradients) compute with.

One mechanism: the vmapped dim is moved to the front (a view) and folded into the op's own batch
dimension (elementwise ops and reductions take it as one more leading dim; conv2d, pooling and
batch-norm-free layers merge it with N), so the batch runs as one call. Where folding would change
the result (a batched weight, per-sample parameter gradients, batch statistics, per-sample losses)
the rule loops over the batch, one op call per sample, and joins the results with our cat."""
import torch

from .._library import ops

_NAMESPACE = "torchext::"


# ---------------------------------------------------------------- helpers

def _front(t, bdim):
    """t with its vmapped dim first (a view)."""
    return t.movedim(bdim, 0)


def _padded(t, rank):
    """A front-batched t with size-1 dims inserted after the batch dim up to 1 + rank dims (for
    broadcasting against the other operands, which are right-aligned)."""
    return t[(slice(None),) + (None,) * (rank + 1 - t.dim())]


def _batched(t, bdim, batch_size):
    """t front-batched: moved if batched, expanded (a view, no copy) if not."""
    return _front(t, bdim) if bdim is not None else t.expand(batch_size, *t.shape)


def _merged(t):
    """(B, N, ...) -> (B * N, ...): a view where the strides allow, else a contiguous copy by our
    cat kernel (floating tensors only; None for others: the caller loops)."""
    shape = (t.shape[0] * t.shape[1], *t.shape[2:])
    try:
        return t.view(shape)
    except RuntimeError:
        pass
    try:
        return ops.cat([t], 0).view(shape) if t.is_floating_point() else None
    except RuntimeError:  # the copy kept a layout that does not merge either
        return None


def _split(t, batch_size):
    """(B * N, ...) -> (B, N, ...)."""
    return None if t is None else t.view(batch_size, t.shape[0] // batch_size, *t.shape[1:])


def _rank(args, in_dims):
    """The largest per-sample rank among the tensor arguments."""
    return max(a.dim() - (d is not None) for a, d in zip(args, in_dims) if isinstance(a, torch.Tensor))


def _is_batched(in_dim):
    """Whether an argument is vmapped (a list argument's in_dims are a list)."""
    if isinstance(in_dim, (list, tuple)):
        return any(_is_batched(d) for d in in_dim)
    return in_dim is not None


def _out_dims(out, dim=0):
    if isinstance(out, tuple):
        return tuple(None if o is None else dim for o in out)
    return None if out is None else dim


# ---------------------------------------------------------------- the loop

def _join(outs, name):
    """The per-sample results stacked along a new dim 0 (our cat), None where the op returned None."""
    first = outs[0]
    if first is None:
        return None
    if not first.is_floating_point():
        raise NotImplementedError(f"torchext.{name}: vmap over this op's {first.dtype} output is not supported")
    return ops.cat([o.unsqueeze(0) for o in outs], 0)


def _sample(args, in_dims, i):
    """The i-th sample's arguments (lists of tensors taken element by element)."""
    def one(a, d):
        if isinstance(a, (list, tuple)) and isinstance(d, (list, tuple)):
            return type(a)(one(x, y) for x, y in zip(a, d))
        return a if d is None else a.select(d, i)
    return [one(a, d) for a, d in zip(args, in_dims)]


def _check_written(op, args, in_dims):
    """An argument the op updates in place (batch_norm's running stats, sgd's params) cannot be
    shared by the samples: native vmap refuses it too."""
    names = [arg.name for arg in op._schema.arguments]
    if "training" in names and not args[names.index("training")]:
        return  # batch_norm in eval mode reads its running stats only
    for arg, a, d in zip(op._schema.arguments, args, in_dims):
        if a is not None and arg.alias_info is not None and arg.alias_info.is_write and d is None:
            raise RuntimeError(f"torchext.{op._schema.name[len(_NAMESPACE):]}: vmap over an op that updates "
                               f"{arg.name} in place needs {arg.name} batched too (every sample would "
                               "update the same tensor)")


def _empty_batch(op, in_dims, args):
    """Outputs of an empty batch: the op's fake kernel on one sample's shapes (meta tensors) gives
    each output's shape and dtype."""
    def meta(a, d):
        if isinstance(a, (list, tuple)) and isinstance(d, (list, tuple)):
            return type(a)(meta(x, y) for x, y in zip(a, d))
        if not isinstance(a, torch.Tensor):
            return a
        shape = [s for k, s in enumerate(a.shape) if k != d] if d is not None else a.shape
        return torch.empty(shape, dtype=a.dtype, device="meta")
    device = next(a.device for a in args if isinstance(a, torch.Tensor))
    out = op(*[meta(a, d) for a, d in zip(args, in_dims)])

    def empty(o):
        return None if o is None else torch.empty((0, *o.shape), dtype=o.dtype, device=device)
    out = tuple(empty(o) for o in out) if isinstance(out, tuple) else empty(out)
    return out, _out_dims(out)


def loop(op, info, in_dims, *args):
    """The op once per sample."""
    name = op._schema.name[len(_NAMESPACE):]
    _check_written(op, args, in_dims)
    if info.batch_size == 0:
        return _empty_batch(op, in_dims, args)
    outs = [op(*_sample(args, in_dims, i)) for i in range(info.batch_size)]
    if isinstance(outs[0], tuple):
        out = tuple(_join([o[k] for o in outs], name) for k in range(len(outs[0])))
    else:
        out = _join(outs, name)
    return out, _out_dims(out)


# ---------------------------------------------------------------- folding rules

def elementwise(same_shape):
    """Ops applied element by element over their tensor arguments: batched operands front-batched
    and padded to the largest rank (broadcasting); with same_shape (the op wants equal shapes) the
    unbatched ones are expanded over the batch."""
    def rule(op, info, in_dims, *args):
        rank = _rank(args, in_dims)
        folded = []
        for a, d in zip(args, in_dims):
            if isinstance(a, torch.Tensor) and d is not None:
                a = _padded(_front(a, d), rank)
            elif isinstance(a, torch.Tensor) and same_shape:
                a = a.expand(info.batch_size, *a.shape)
            folded.append(a)
        out = op(*folded)
        keeps = any(arg.name == "keep_input" for arg in op._schema.arguments)
        if keeps and not args[-1]:  # the in-place op returned an empty placeholder, not a sample
            return out, None
        return out, _out_dims(out)
    return rule


def dropout_backward(op, info, in_dims, grad, mask, p):
    """Elementwise where the mask has the gradient's shape; stochastic_depth's per-row noise (one
    value per sample's row, or one per sample) does not fold: the loop."""
    shapes = [[s for k, s in enumerate(t.shape) if k != d] for t, d in zip((grad, mask), in_dims)]
    if shapes[0] != shapes[1]:
        return loop(op, info, in_dims, grad, mask, p)
    return elementwise(same_shape=True)(op, info, in_dims, grad, mask, p)


def reduction(op, info, in_dims, self, dim=None, keepdim=False, dtype=None):
    """sum and mean over the per-sample dims, shifted past the batch dim."""
    rank = self.dim() - 1
    if rank == 0:
        return loop(op, info, in_dims, self, dim, keepdim, dtype)
    dims = list(range(1, rank + 1)) if not dim else [d % rank + 1 for d in dim]
    return op(_front(self, in_dims[0]), dims, keepdim, dtype), 0


def matmul(op, info, in_dims, a, b):
    """1-D operands become a row / a column, the batched ones get the batch dim in front of
    broadcast batch dims, and the added dims are dropped from the product again."""
    a_dim, b_dim = in_dims
    da, db = a.dim() - (a_dim is not None), b.dim() - (b_dim is not None)
    if a_dim is not None:
        a = _front(a, a_dim)
    if b_dim is not None:
        b = _front(b, b_dim)
    if da == 1:
        a = a.unsqueeze(-2)
    if db == 1:
        b = b.unsqueeze(-1)
    rank = max(da, db, 2)
    if a_dim is not None:
        a = _padded(a, rank)
    if b_dim is not None:
        b = _padded(b, rank)
    out = op(a, b)
    if da == 1:
        out = out.squeeze(-2)
    if db == 1:
        out = out.squeeze(-1)
    return out, 0


def _data_only(data, rule):
    """rule when only the arguments at positions `data` are batched (and no per-sample parameter
    gradient is asked for: an output_mask argument's entries after the first), else the loop."""
    def dispatch(op, info, in_dims, *args):
        params_batched = any(_is_batched(d) for i, d in enumerate(in_dims) if i not in data)
        mask = args[-1] if op._schema.arguments[-1].name == "output_mask" else [True]
        if params_batched or any(mask[1:]):
            return loop(op, info, in_dims, *args)
        return rule(op, info, in_dims, *args)
    return dispatch


def leading(data):
    """Ops over any leading dims (linear, layer_norm and their backwards): the data arguments
    front-batched (expanded where unbatched); every output but parameter gradients is per sample."""
    def rule(op, info, in_dims, *args):
        args = [_batched(a, d, info.batch_size) if i in data else a
                for i, (a, d) in enumerate(zip(args, in_dims))]
        out = op(*args)
        if isinstance(out, tuple) and op._schema.arguments[-1].name == "output_mask":
            return out, (0,) + (None,) * (len(out) - 1)
        return out, _out_dims(out)
    return _data_only(data, rule)


def batch_merged(data):
    """Ops over (N, C, H, W) (conv2d, pooling and their backwards; pooling also takes (C, H, W)): the
    data arguments front-batched and the batch merged with N, or taken as N for 3-D samples."""
    def rule(op, info, in_dims, *args):
        if info.batch_size == 0:
            return loop(op, info, in_dims, *args)
        folded = [_batched(a, d, info.batch_size) if i in data else a
                  for i, (a, d) in enumerate(zip(args, in_dims))]
        four_d = folded[data[0]].dim() == 5
        if four_d:
            folded = [_merged(a) if i in data else a for i, a in enumerate(folded)]
            if any(folded[i] is None for i in data):
                return loop(op, info, in_dims, *args)
        out = op(*folded)
        if op._schema.arguments[-1].name == "output_mask":
            out = (_split(out[0], info.batch_size) if four_d else out[0],) + tuple(out[1:])
            return out, (0,) + (None,) * (len(out) - 1)
        if four_d:
            out = tuple(_split(o, info.batch_size) for o in out) if isinstance(out, tuple) else \
                _split(out, info.batch_size)
        return out, _out_dims(out)
    return _data_only(data, rule)


def cat(op, info, in_dims, tensors, dim=0):
    """Every tensor front-batched (expanded where unbatched), dim shifted past the batch dim; a
    legacy 1-D empty tensor (skipped per sample) sends it to the loop."""
    shapes = [[s for k, s in enumerate(t.shape) if k != d] for t, d in zip(tensors, in_dims[0])]
    if any(shape == [0] for shape in shapes):
        return loop(op, info, in_dims, tensors, dim)
    rank = len(shapes[0])
    if not -rank <= dim < rank:  # the op reports it, per sample
        return loop(op, info, in_dims, tensors, dim)
    batched = [_batched(t, d, info.batch_size) for t, d in zip(tensors, in_dims[0])]
    return op(batched, dim % rank + 1), 0


def check_randomness(info, name, p):
    """A draw under vmap needs a randomness flag, as native's (dropout with p = 1 draws nothing)."""
    if info.randomness == "error" and p != 1:
        raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use the "
                           "'same' or 'different' randomness flags on vmap or perform the randomness operation "
                           f"out of vmap (torchext.{name})")


def random(op, info, in_dims, input, *args):
    """dropout, dropout_ and stochastic_depth: randomness='different' draws one mask over the
    front-batched input (stochastic_depth's rows: the merged batch and rows; its 'batch' mode: one
    draw per sample, as rows of the batch), 'same' draws every sample's mask from the same state
    (one draw's mask, shared), 'error' refuses as native vmap does."""
    name = op._schema.name[len(_NAMESPACE):]
    if any(d is not None for d in in_dims[1:]):
        raise RuntimeError(f"torchext.{name}: vmap over the generator state is not supported")
    p = args[0]
    if name == "stochastic_depth":
        p = 0.5  # draws even at p = 1, as torchvision's
    check_randomness(info, name, p)
    if info.randomness == "same" and p != 1:
        outs = [op(input.select(in_dims[0], i), *args) for i in range(info.batch_size)]
        *values, mask, state = zip(*outs)
        joined = tuple(_join(list(v), name) for v in values)
        return (*joined, mask[0], state[-1]), (*(0,) * len(joined), None, None)
    input = _front(input, in_dims[0])
    if name != "stochastic_depth":
        out = op(input, *args)
        return out, (*(0,) * (len(out) - 1), None)
    p, row, state = args
    if not row:  # one draw per sample: the samples are the rows
        out = op(input, p, True, state)
        return out, (0, 0, None)
    merged = _merged(input)
    out, mask, state = op(merged, p, True, state)
    return (_split(out, info.batch_size), _split(mask, info.batch_size), state), (0, 0, None)


# ---------------------------------------------------------------- the table

_SAME_SHAPE = ("relu", "relu_", "relu_backward", "add_relu") + tuple(
    f"{name}{suffix}" for name in ("sigmoid", "silu", "hardtanh", "hardswish", "hardsigmoid", "gelu")
    for suffix in ("", "_", "_backward", "_double_backward"))
_BROADCAST = ("add", "sub", "mul", "div", "pow", "add_scalar", "rsub_scalar", "mul_scalar", "pow_scalar",
              "div_scalar", "rdiv_scalar")

RULES = {
    **{name: elementwise(same_shape=True) for name in _SAME_SHAPE},
    **{name: elementwise(same_shape=False) for name in _BROADCAST},
    "dropout_backward": dropout_backward, "sum": reduction, "mean": reduction, "matmul": matmul, "cat": cat,
    "linear": leading((0,)), "linear_backward": leading((0, 1)),
    "layer_norm": leading((0,)), "layer_norm_backward": leading((0, 1, 3, 4)),
    "conv2d": batch_merged((0,)), "conv2d_backward": batch_merged((0, 1)),
    "max_pool2d": batch_merged((0,)), "max_pool2d_backward": batch_merged((0, 1, 2)),
    "avg_pool2d": batch_merged((0,)), "avg_pool2d_backward": batch_merged((0, 1)),
    "adaptive_avg_pool2d": batch_merged((0,)), "adaptive_avg_pool2d_backward": batch_merged((0, 1)),
    "dropout": random, "dropout_": random, "stochastic_depth": random,
}


def _register():
    """A rule for every op of the namespace: its own, or the loop (batch_norm and batch_norm_relu,
    whose statistics span the batch; the loss and pow_backward; ops added later)."""
    for qualname in torch._C._dispatch_get_all_op_names():
        if qualname.startswith(_NAMESPACE):
            name = qualname[len(_NAMESPACE):]
            op = getattr(ops, name).default
            torch.library.register_vmap(qualname, _positional(op, RULES.get(name, loop)))


def _positional(op, rule):
    """rule called with every argument positional (keyword ones in schema order, defaults filled
    in; they are not vmapped)."""
    def run(info, in_dims, *args, **kwargs):
        if kwargs:
            rest = op._schema.arguments[len(args):]
            args = (*args, *(kwargs[a.name] if a.name in kwargs else a.default_value for a in rest))
            in_dims = (*in_dims, *(None,) * len(rest))
        return rule(op, info, in_dims, *args)
    return run


_register()
