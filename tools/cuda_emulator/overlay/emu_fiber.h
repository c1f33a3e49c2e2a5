// A minimal x86-64 context switch for the emulator's fibers: ucontext's swapcontext makes a
// system call (the signal mask) on every switch, which made large grids cost minutes. This saves
// only what the System V ABI says a call preserves: rbx, rbp, r12-r15, the stack pointer, and the
// SSE and x87 control words.
#pragma once
#include <cstddef>
#include <cstdint>

#if !defined(__x86_64__)
#error "the CUDA emulator's fibers (emu_fiber.h) are written for x86-64"
#endif

// emu_fiber_switch(&from_sp, to_sp): saves the caller's registers on its stack, stores its stack
// pointer in *from_sp and resumes the context whose stack pointer is to_sp. Weak: every
// translation unit that includes this defines it, and the linker keeps one.
extern "C" void emu_fiber_switch(void** from_sp, void* to_sp);
asm(R"(
  .text
  .weak emu_fiber_switch
  .hidden emu_fiber_switch
  .type emu_fiber_switch, @function
emu_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_fiber_switch, .-emu_fiber_switch
)");

namespace emu {

// The stack pointer of a fiber that starts in `start` (which must never return) on the stack
// [base, base + size): the frame emu_fiber_switch pops, under a null return address so that
// `start` is entered with the alignment of a called function.
inline void* fiber_stack(char* base, size_t size, void (*start)()) {
  auto top = reinterpret_cast<uintptr_t>(base + size) & ~uintptr_t{15};
  auto* sp = reinterpret_cast<uint64_t*>(top);
  *--sp = 0;                                       // start's return address: none
  *--sp = reinterpret_cast<uint64_t>(start);       // where emu_fiber_switch's ret goes
  for (int i = 0; i < 6; ++i) *--sp = 0;           // rbp, rbx, r12-r15
  *--sp = uint64_t{0x037F} << 32 | 0x1F80;         // x87 control word, MXCSR: the defaults
  return sp;
}

}  // namespace emu
