// Runs one block: its threads are fibers (emu_fiber.h) on one OS thread, each run until it reaches
// a __syncthreads or returns, in rounds. A round ends with every thread either at the same
// __syncthreads (the barrier passes) or returned (the block is done); anything else, threads at
// two different __syncthreads or a thread returning while others wait at one, is a divergent
// barrier, undefined on the device, and fails the launch at once instead of hanging. Switching
// fibers costs far less than waking OS threads, which makes large grids affordable.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "emu_fiber.h"
#include "emu_launch_state.h"
#include "emu_shared.h"

namespace emu {

// Where a thread stopped: a __syncthreads call, or returned from the kernel.
struct Site {
  const char* file;
  int line;
};
constexpr int kReturnedLine = -1;

inline std::string describe(Site s) {
  if (s.line == kReturnedLine) return "returned from the kernel";
  return "waits at __syncthreads (" + std::string(s.file) + ":" + std::to_string(s.line) + ")";
}

inline bool same_site(Site a, Site b) {
  return a.line == b.line && (a.line == kReturnedLine || std::strcmp(a.file, b.file) == 0);
}

class BlockRunner;
inline thread_local BlockRunner* tl_runner = nullptr;
inline thread_local dim3 tl_threadIdx;

class BlockRunner {
 public:
  // Room for a kernel's frames and for unwinding an error out of them.
  static constexpr size_t kStack = 128 * 1024;

  BlockRunner(LaunchState& launch, dim3 block, void (*call)(void*), void* body)
      : launch_(launch), block_(block), threads_(block.x * block.y * block.z),
        call_(call), body_(body), stacks_(new char[threads_ * kStack]), fibers_(threads_) {}

  // Runs the current block (blockIdx already set) to its end; throws Aborted if the launch fails.
  void run(const std::string& where) {
    tl_runner = this;
    for (unsigned t = 0; t < threads_; ++t) {
      fibers_[t].sp = fiber_stack(stacks_.get() + size_t{t} * kStack, kStack, &BlockRunner::entry);
      fibers_[t].site = Site{"", 0};
    }
    for (;;) {
      for (unsigned t = 0; t < threads_; ++t) {
        if (fibers_[t].site.line == kReturnedLine) continue;
        current_ = t;
        tl_tid = t;
        tl_threadIdx = dim3(t % block_.x, (t / block_.x) % block_.y, t / (block_.x * block_.y));
        emu_fiber_switch(&main_sp_, fibers_[t].sp);
        launch_.check();
      }
      if (round_ends_block(where)) return;
      ++tl_epoch;  // every thread is at one barrier: it passes
    }
  }

  // Called by a fiber at __syncthreads: back to the scheduler until the round is over.
  void yield(Site site) {
    Fiber& f = fibers_[current_];
    f.site = site;
    emu_fiber_switch(&f.sp, main_sp_);
  }

 private:
  struct Fiber {
    void* sp;
    Site site;
  };

  // A fiber's start: runs the kernel for the current thread, then hands back to the scheduler
  // for good (the fiber is started afresh for the next block).
  [[noreturn]] static void entry() {
    BlockRunner& r = *tl_runner;
    try {
      r.call_(r.body_);
    } catch (const Aborted&) {
    } catch (const std::exception& e) {
      r.launch_.fail("block " + str(tl_blockIdx) + " thread " + std::to_string(r.current_) + ": " +
                     e.what());
    }
    Fiber& f = r.fibers_[r.current_];
    f.site = Site{"", kReturnedLine};
    emu_fiber_switch(&f.sp, r.main_sp_);
    __builtin_unreachable();
  }

  // After a round: true when every thread returned; false when all wait at one __syncthreads.
  bool round_ends_block(const std::string& where) {
    const Site first = fibers_[0].site;
    for (unsigned t = 1; t < threads_; ++t) {
      if (!same_site(fibers_[t].site, first)) {
        launch_.fail("divergent __syncthreads in " + where + ": thread 0 " + describe(first) +
                     " while thread " + std::to_string(t) + " " + describe(fibers_[t].site));
        throw Aborted{};
      }
    }
    return first.line == kReturnedLine;
  }

  LaunchState& launch_;
  const dim3 block_;
  const unsigned threads_;
  void (*const call_)(void*);
  void* const body_;
  std::unique_ptr<char[]> stacks_;
  std::vector<Fiber> fibers_;
  void* main_sp_ = nullptr;  // the scheduler's, while a fiber runs
  unsigned current_ = 0;
};

}  // namespace emu
