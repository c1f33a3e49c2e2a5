"""The autograd Function for a backward op whose own derivative torchext does not compute."""
from .function import Function


def not_differentiable_again(name, op):
    """A Function running the backward op `op` as a graph node (so create_graph records it), whose
    backward raises: a second derivative through torchext.`name` fails loudly, not silently wrong."""

    def forward(*args):
        return op(*args)

    def setup_context(ctx, inputs, output):
        pass

    def backward(ctx, *grads):
        raise RuntimeError(f"torchext.{name}: double backward is not supported")

    return type(f"{name.title().replace('_', '')}Backward", (Function,),
                {"__doc__": f"The {name} backward op; not differentiable again.",
                 "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
                 "backward": staticmethod(backward)})
