// The state one emulated launch shares among its threads: the first error (later ones are
// consequences), the abort flag every wait polls, the time limit and what the messages name.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

namespace emu {

inline std::string str(dim3 d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

// The running block and grid, per worker thread (blockIdx, blockDim and gridDim in a kernel).
inline thread_local dim3 tl_blockIdx, tl_blockDim, tl_gridDim;

// Unwinds a kernel thread once its launch has failed; never escapes the launch.
struct Aborted {};

// Seconds a barrier (or the launch as a whole) may wait before it is called a deadlock.
inline double timeout_seconds() {
  const char* s = std::getenv("EMU_TIMEOUT");
  return s != nullptr ? std::atof(s) : 10.0;
}

struct LaunchState {
  std::string kernel;
  dim3 grid, block;
  uint64_t seed;
  std::chrono::duration<double> timeout{timeout_seconds()};
  std::atomic<bool> aborted{false};
  std::atomic<uint64_t> blocks_done{0};
  std::mutex mutex;
  std::string error;

  // Records the first error and stops every thread of the launch at its next wait.
  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (error.empty())
      error = "emu: kernel " + kernel + " <<<" + str(grid) + ", " + str(block) + ">>>: " + what +
              " [EMU_SEED=" + std::to_string(seed) + "]";
    aborted = true;
  }
  void check() const {
    if (aborted) throw Aborted{};
  }
};

}  // namespace emu
