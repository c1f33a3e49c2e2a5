// The barrier between waves of blocks: the worker groups (OS threads) wait here for each other
// before their next blocks. A group that does not arrive within the launch's time limit holds a
// block that never ends (a thread spinning): the launch fails rather than hang.
#pragma once
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <mutex>
#include <string>

#include "emu_launch_state.h"

namespace emu {

class WaveBarrier {
 public:
  WaveBarrier(unsigned n, LaunchState& launch) : n_(n), launch_(launch) {}

  void arrive(const std::string& where) {
    const uint32_t generation = generation_.load();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      launch_.check();
      if (++arrived_ == n_) {
        arrived_ = 0;
        generation_.fetch_add(1);
        futex(FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
        return;
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + launch_.timeout;
    const timespec slice{0, 20'000'000};  // short: an abort elsewhere is noticed promptly
    while (generation_.load() == generation) {
      launch_.check();
      if (std::chrono::steady_clock::now() >= deadline) {
        launch_.fail("a block of the wave " + where + " did not finish within " +
                     std::to_string(launch_.timeout.count()) +
                     " s: a deadlock (a thread spinning on what another thread never writes?)");
        throw Aborted{};
      }
      futex(FUTEX_WAIT_PRIVATE, generation, &slice);
    }
  }

 private:
  long futex(int op, uint32_t value, const timespec* limit) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(&generation_), op, value, limit,
                   nullptr, 0);
  }

  const unsigned n_;
  LaunchState& launch_;
  std::atomic<uint32_t> generation_{0};  // the futex word the waiters sleep on
  std::mutex mutex_;
  unsigned arrived_ = 0;
};

}  // namespace emu
