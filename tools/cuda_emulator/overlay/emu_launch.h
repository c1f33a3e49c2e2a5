// emu::launch, what build.py turns `kernel<<<grid, block, smem, stream>>>(args)` into. It checks
// the launch configuration against the sm_80/sm_90 limits, then runs the blocks concurrently:
// worker groups (EMU_WORKERS of them, default 4), each an OS thread running one block at a time
// (emu_block.h), take the blocks in a shuffled order (EMU_SEED, random by default, printed in
// every error) in waves of one block per group, so a kernel that relies on blocks running in
// index order or one at a time fails. Errors and deadlocks fail the launch with a
// std::runtime_error naming the kernel.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "emu_barrier.h"
#include "emu_block.h"
#include "emu_launch_state.h"
#include "emu_shared.h"
#include "emu_types.h"

namespace emu {

struct Config {
  dim3 grid;
  dim3 block;
  size_t smem = 0;
  cudaStream_t stream = nullptr;
};

// EMU_SEED fixes the block orders of a run; each launch draws its own order from it.
inline uint64_t launch_seed(uint64_t& base) {
  static const uint64_t random_base = std::random_device{}();
  static std::atomic<uint64_t> launches{0};
  const char* s = std::getenv("EMU_SEED");
  base = s != nullptr ? std::strtoull(s, nullptr, 10) : random_base;
  return base * 0x9E3779B97F4A7C15ull + launches++;
}

inline void check_config(const std::string& kernel, const Config& c) {
  const uint64_t threads = uint64_t{c.block.x} * c.block.y * c.block.z;
  std::string why;
  if (threads == 0 || c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0)
    why = "an empty grid or block";
  else if (c.block.x > 1024 || c.block.y > 1024 || c.block.z > 64)
    why = "block dimensions over (1024, 1024, 64)";
  else if (threads > 1024)
    why = std::to_string(threads) + " threads per block, over 1024";
  else if (c.grid.x > 2147483647u)
    why = "grid.x over 2^31 - 1";
  else if (c.grid.y > 65535 || c.grid.z > 65535)
    why = "grid.y or grid.z over 65535";
  else if (c.smem > kSharedLimit)
    why = std::to_string(c.smem) + " bytes of dynamic shared memory, over " +
          std::to_string(kSharedLimit);
  if (!why.empty())
    throw std::runtime_error("emu: kernel " + kernel + " <<<" + str(c.grid) + ", " + str(c.block) +
                             ", " + std::to_string(c.smem) + ">>>: " + why +
                             " (an sm_80/sm_90 launch limit)");
}

inline unsigned worker_groups(unsigned threads, uint64_t blocks) {
  const char* s = std::getenv("EMU_WORKERS");
  const unsigned asked = s != nullptr ? std::max(1, std::atoi(s)) : 4;
  // At most 4096 fiber stacks at once.
  return static_cast<unsigned>(std::min<uint64_t>({asked, std::max(1u, 4096 / threads), blocks}));
}

// One worker group (an OS thread): runs the blocks order[g], order[g + groups], ... one wave at
// a time, each with freshly scrubbed shared memory.
template <typename F>
void run_group(LaunchState& state, WaveBarrier& wave, const std::vector<uint64_t>& order,
               unsigned g, unsigned groups, size_t dynamic_smem, F& body) {
  const dim3 grid = state.grid;
  tl_gridDim = grid;
  tl_blockDim = state.block;
  tl_epoch = 1;
  SharedArena arena(state, dynamic_smem);
  tl_arena = &arena;
  BlockRunner runner(state, state.block, [](void* f) { (*static_cast<F*>(f))(); }, &body);
  try {
    for (uint64_t first = 0; first < order.size(); first += groups) {
      if (first + g < order.size()) {
        const uint64_t b = order[first + g];
        tl_blockIdx = dim3(b % grid.x, (b / grid.x) % grid.y, b / (uint64_t{grid.x} * grid.y));
        runner.run("block " + str(tl_blockIdx));
        arena.scrub();
        ++tl_epoch;
        ++state.blocks_done;
      }
      wave.arrive("starting at position " + std::to_string(first) + " of the shuffled order");
    }
  } catch (const Aborted&) {
  }
}

// Waits for the launch's threads. A launch where no block finishes within the time limit is
// failed (a divergent barrier fails at once, so this is a thread that never yields); threads
// still running user code (spinning) after a failure cannot be stopped, so the process ends
// with the error rather than hang.
inline void wait_for_threads(LaunchState& state, std::vector<std::thread>& threads,
                             std::atomic<unsigned>& running) {
  using clock = std::chrono::steady_clock;
  auto mark = clock::now();
  uint64_t done = state.blocks_done;
  bool failed = false;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (state.aborted && !failed) {
      failed = true;
      mark = clock::now();
    }
    if (!failed && state.blocks_done != done) {
      done = state.blocks_done;
      mark = clock::now();
    }
    // After a failure, threads still in user code get a while longer to reach a barrier.
    const std::chrono::duration<double> limit =
        failed ? std::max(state.timeout, std::chrono::duration<double>(5.0)) : state.timeout;
    if (clock::now() - mark < limit) continue;
    if (!failed) {
      state.fail("deadlock: no block finished within " + std::to_string(limit.count()) +
                 " s (a thread spinning on what another block or thread never writes?)");
    } else {
      std::fprintf(stderr, "%s\nemu: %u threads are still running after the failure; exiting\n",
                   state.error.c_str(), running.load());
      std::fflush(stderr);
      std::_Exit(70);
    }
  }
  for (auto& th : threads) th.join();
}

template <typename F>
void launch(const char* kernel, Config c, F body) {
  check_config(kernel, c);
  LaunchState state;
  state.kernel = kernel;
  state.grid = c.grid;
  state.block = c.block;
  uint64_t base = 0;
  std::mt19937_64 rng(launch_seed(base));
  state.seed = base;
  std::vector<uint64_t> order(uint64_t{c.grid.x} * c.grid.y * c.grid.z);
  std::iota(order.begin(), order.end(), uint64_t{0});
  std::shuffle(order.begin(), order.end(), rng);

  const unsigned threads = c.block.x * c.block.y * c.block.z;
  const unsigned groups = worker_groups(threads, order.size());
  WaveBarrier wave(groups, state);
  std::atomic<unsigned> running{groups};
  std::vector<std::thread> pool;
  for (unsigned g = 0; g < groups; ++g)
    pool.emplace_back([&, g] {
      run_group(state, wave, order, g, groups, c.smem, body);
      --running;
    });
  wait_for_threads(state, pool, running);
  if (state.aborted) throw std::runtime_error(state.error);
}

inline void sync_threads(Site site) { tl_runner->yield(site); }

}  // namespace emu
