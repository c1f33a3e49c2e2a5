// batch_norm's passes (batch_norm_kernels.h) as the entry points of ../batch_norm_dispatch.h.
#include "../batch_norm_dispatch.h"
#include "batch_norm_kernels.h"

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ChannelMomentsKernel, channel_moments);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ChannelGradSumsKernel, channel_grad_sums);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ChannelNormalizeKernel, channel_normalize);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ChannelInputGradKernel, channel_input_grad);
