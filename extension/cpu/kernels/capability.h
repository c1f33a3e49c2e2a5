// Every file in kernels/ is compiled once per CPU capability (setup.py defines
// TORCHEXT_CPU_CAPABILITY as DEFAULT, AVX2 or AVX512, with that capability's instruction-set
// flags), its code in namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY so that the copies do not
// collide. Generic code reaches it only through the stubs of ../dispatch.h.
#pragma once
#ifndef TORCHEXT_CPU_CAPABILITY
#error "extension/cpu/kernels/ is compiled per CPU capability by setup.py; use ../dispatch.h"
#endif
