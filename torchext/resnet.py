"""torchvision's ResNet pieces with torchext forwards. Each batch norm followed by the block's
ReLU runs as one fused op, relu(batch_norm(x)), and the last one of a block also takes the
residual, relu(batch_norm(x) + identity): one pass over the activations instead of three. The
fusion is skipped (the modules run one by one) when the batch norm is not torchext's, the
activation is not a plain ReLU, or any module hook could observe the intermediate value. ResNet
flattens with torchext's flatten. Submodules (convs, batch norms, ...) are patched separately by
torchext.patch.
"""
from torch import nn
from torch.nn.modules import module as _module
from torchvision.models import resnet as tv

from . import functional as F
from . import nn as tnn

__all__ = ["BasicBlock", "Bottleneck", "ResNet"]

_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _hook_free(*modules):
    return (not any(getattr(_module, name, None) for name in _GLOBAL_HOOKS)
            and not any(getattr(m, name, None) for m in modules for name in _HOOKS))


def _bn_relu(bn, relu, x, residual=None):
    """relu(bn(x) + residual) (residual optional), fused when bn and relu can be."""
    if isinstance(bn, tnn.BatchNorm2d) and type(relu) in (nn.ReLU, tnn.ReLU) and _hook_free(bn, relu):
        return bn._torchext_forward(x, relu=True, residual=residual)
    out = bn(x)
    if residual is None:
        return relu(out)
    if isinstance(relu, nn.ReLU):
        return F.add_relu(out, residual)
    return relu(F.add(out, residual))


class BasicBlock(tv.BasicBlock):
    _torchext_native = tv.BasicBlock

    def forward(self, x):
        out = self.conv2(_bn_relu(self.bn1, self.relu, self.conv1(x)))
        identity = x if self.downsample is None else self.downsample(x)
        return _bn_relu(self.bn2, self.relu, out, identity)


class Bottleneck(tv.Bottleneck):
    _torchext_native = tv.Bottleneck

    def forward(self, x):
        out = self.conv2(_bn_relu(self.bn1, self.relu, self.conv1(x)))
        out = self.conv3(_bn_relu(self.bn2, self.relu, out))
        identity = x if self.downsample is None else self.downsample(x)
        return _bn_relu(self.bn3, self.relu, out, identity)


class ResNet(tv.ResNet):
    _torchext_native = tv.ResNet

    def _forward_impl(self, x):
        x = self.maxpool(_bn_relu(self.bn1, self.relu, self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.flatten(self.avgpool(x), 1)
        return self.fc(x)
