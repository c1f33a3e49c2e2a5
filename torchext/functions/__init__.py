"""autograd Functions over the torchext ops, with the ops' fake (meta) kernels, one module a
family. Each Function's forward calls a torchext forward op and its backward calls torchext
ops (through Functions where the backward is itself differentiable)."""
