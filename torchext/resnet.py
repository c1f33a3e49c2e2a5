"""torchvision's ResNet pieces with torchext forwards: the residual blocks end in the fused
add_relu (`out += identity; relu(out)` in one kernel) and ResNet flattens with torchext's
flatten. Their submodules (convs, batch norms, ...) are patched separately by torchext.patch.
"""
from torch import nn
from torchvision.models import resnet as tv

from . import functional as F

__all__ = ["BasicBlock", "Bottleneck", "ResNet"]


def _residual_relu(block, out, identity):
    """relu(out + identity) fused when the block's activation is a ReLU (as torchvision builds
    it); any other activation module is applied to the sum."""
    if isinstance(block.relu, nn.ReLU):
        return F.add_relu(out, identity)
    return block.relu(F.add(out, identity))


class BasicBlock(tv.BasicBlock):
    _torchext_native = tv.BasicBlock

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return _residual_relu(self, out, identity)


class Bottleneck(tv.Bottleneck):
    _torchext_native = tv.Bottleneck

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return _residual_relu(self, out, identity)


class ResNet(tv.ResNet):
    _torchext_native = tv.ResNet

    def _forward_impl(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.flatten(self.avgpool(x), 1)
        return self.fc(x)
