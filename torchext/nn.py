"""Modules mirroring torch.nn whose forward computes on torchext.functional.

Each class subclasses the torch.nn class it mirrors and only overrides `forward`, so it has the
same constructor, parameters, buffers, state_dict keys and repr; isinstance checks against the
torch.nn class still hold. torchext.patch turns an existing torch.nn module into its torchext
mirror by switching the instance's class (its Parameter and buffer objects stay in place), and
torchext.unpatch switches it back (`_torchext_native` names the class to restore).
"""
from torch import nn
from torchvision import ops as tv_ops

from . import functional as F

__all__ = ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Linear", "Flatten",
           "BatchNorm1d", "LayerNorm", "Dropout", "StochasticDepth",
           "Sigmoid", "SiLU", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "GELU",
           "Softmax", "LogSoftmax"]


class Conv2d(nn.Conv2d):
    _torchext_native = nn.Conv2d

    @staticmethod
    def _torchext_unsupported(module):
        """Why an nn.Conv2d cannot run on torchext (None when it can)."""
        if module.padding_mode != "zeros":
            return (f"padding_mode={module.padding_mode!r}: torchext.conv2d pads with zeros only")
        return None

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class BatchNorm2d(nn.BatchNorm2d):
    """Mirrors torch.nn.modules.batchnorm._BatchNorm.forward: num_batches_tracked counts training
    batches; momentum=None uses the cumulative average factor 1/num_batches_tracked; running
    stats are used in eval when present and updated in training when tracked."""

    _torchext_native = nn.BatchNorm2d

    def forward(self, input):
        return self._torchext_forward(input)

    def _torchext_forward(self, input, relu=False, residual=None):
        """This module's batch norm of input; with relu=True, relu(batch_norm(input) + residual)
        in one fused op (what torchext.resnet runs when a block's bn and relu are plain)."""
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)  # the int64 counter, as native
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # Running stats are passed when they are read (eval) or updated (training, tracked).
        pass_stats = not self.training or self.track_running_stats
        args = (input, self.running_mean if pass_stats else None,
                self.running_var if pass_stats else None, self.weight, self.bias, use_batch_stats,
                factor, self.eps)
        return F.batch_norm_relu(*args, residual=residual) if relu else F.batch_norm(*args)


class BatchNorm1d(nn.BatchNorm1d):
    """BatchNorm2d's forward on (N, C) or (N, C, L) input (nn.BatchNorm1d's _check_input_dim)."""

    _torchext_native = nn.BatchNorm1d
    forward = BatchNorm2d.forward
    _torchext_forward = BatchNorm2d._torchext_forward


class LayerNorm(nn.LayerNorm):
    _torchext_native = nn.LayerNorm

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class Dropout(nn.Dropout):
    _torchext_native = nn.Dropout

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class StochasticDepth(tv_ops.StochasticDepth):
    _torchext_native = tv_ops.StochasticDepth

    def forward(self, input):
        return F.stochastic_depth(input, self.p, self.mode, self.training)


class ReLU(nn.ReLU):
    _torchext_native = nn.ReLU

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)


class MaxPool2d(nn.MaxPool2d):
    _torchext_native = nn.MaxPool2d

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(nn.AvgPool2d):
    _torchext_native = nn.AvgPool2d

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    _torchext_native = nn.AdaptiveAvgPool2d

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class Linear(nn.Linear):
    _torchext_native = nn.Linear

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)


class Flatten(nn.Flatten):
    _torchext_native = nn.Flatten

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)


class Sigmoid(nn.Sigmoid):
    _torchext_native = nn.Sigmoid

    def forward(self, input):
        return F.sigmoid(input)


class SiLU(nn.SiLU):
    _torchext_native = nn.SiLU

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class Hardtanh(nn.Hardtanh):
    _torchext_native = nn.Hardtanh

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)


class ReLU6(nn.ReLU6):
    _torchext_native = nn.ReLU6

    def forward(self, input):
        return F.relu6(input, self.inplace)


class Hardswish(nn.Hardswish):
    _torchext_native = nn.Hardswish

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(nn.Hardsigmoid):
    _torchext_native = nn.Hardsigmoid

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class GELU(nn.GELU):
    _torchext_native = nn.GELU

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)


class Softmax(nn.Softmax):
    _torchext_native = nn.Softmax

    def forward(self, input):
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(nn.LogSoftmax):
    _torchext_native = nn.LogSoftmax

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)
