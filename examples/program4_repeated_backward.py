"""Program 4 of the autograd tutorial: repeated backward, gradient accumulation and zeroing, on
torchext kernels.

    python examples/program4_repeated_backward.py
"""
import torch

import torchext


def run():
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()                 # add a scalar, pow, transpose
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.clone()                   # 2*(inp+1)
    out.backward(torch.ones_like(out), retain_graph=True)
    second = inp.grad.clone()                  # accumulated: doubled
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    call_after_zero = inp.grad.clone()         # back to 2*(inp+1)
    out.backward(torch.ones_like(out))         # the last one may free the graph
    try:
        out.backward(torch.ones_like(out))     # without retain_graph: buffers are freed
        freed_error = "no error"
    except RuntimeError as error:
        freed_error = str(error).split(".")[0]
    return {"out": out, "first call": first, "second call": second,
            "call after zeroing": call_after_zero, "backward after free": freed_error}


if __name__ == "__main__":
    with torchext.enable():
        for name, value in run().items():
            print(f"{name}:\n{value}")
