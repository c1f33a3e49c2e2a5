// Shared memory of an emulated block, with a racecheck. build.py rewrites each
// `__shared__ T name[N]...;` as `auto name = ::emu::shared<T[N]...>("name");` and each
// `extern __shared__ T name[];` as `auto name = ::emu::dynamic_shared<T>("name");`: every block
// gets its own arena, filled with 0xFF bytes (NaN as float or double) before it runs, and every
// element access goes through a proxy that checks it against a shadow word per byte offset:
// reading an element no thread of the block has written, or two threads touching one element
// between the same two barriers with at least one write (a missing __syncthreads), fails the
// launch. The check is exact, not a matter of thread timing, so such bugs fail every run.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "emu_launch_state.h"

namespace emu {

// What a block may use without cudaFuncSetAttribute's opt-in, on sm_80 and sm_90 alike; no
// kernel of ours opts in, so this is the limit for static plus dynamic shared memory.
constexpr size_t kSharedLimit = 48 * 1024;
constexpr unsigned char kGarbage = 0xFF;

struct SharedVar {
  int site;  // which declaration in the source (build.py numbers them)
  std::string name;
  size_t offset, bytes, element;
};

// Shadow word: bit 63 written in this block; bits 32-62 the barrier interval (epoch) of the
// accesses below; bits 16-31 the writing thread + 1; bits 0-15 the reading thread + 1, or
// kManyReaders.
constexpr uint64_t kWrittenBit = uint64_t{1} << 63;
constexpr uint64_t kManyReaders = 0xFFFF;

struct SharedArena {
  SharedArena(LaunchState& launch, size_t dynamic)
      : launch(launch), dynamic(dynamic), data(kSharedLimit, kGarbage), shadow(kSharedLimit) {
    for (auto& w : shadow) w.store(0, std::memory_order_relaxed);
    used = (dynamic + 15) / 16 * 16;
  }

  // Garbage in the bytes the last block used and a fresh shadow, before the next block.
  void scrub() {
    const size_t bytes = std::min(used, kSharedLimit);
    std::memset(data.data(), kGarbage, bytes);
    for (size_t i = 0; i < bytes; ++i) shadow[i].store(0, std::memory_order_relaxed);
    vars.clear();
    used = (dynamic + 15) / 16 * 16;
  }

  // The offset of a declaration: placed when the first thread of the block reaches it, so
  // every thread (and every iteration of a loop around it) sees the same variable.
  size_t place(int site, const char* name, size_t bytes, size_t align, size_t element) {
    std::lock_guard<std::mutex> lock(vars_mutex);
    for (const auto& v : vars)
      if (v.site == site) return v.offset;
    const size_t offset = site < 0 ? 0 : (used + align - 1) / align * align;
    if (site >= 0) used = offset + bytes;
    vars.push_back({site, name, offset, bytes, element});
    return offset;
  }

  std::string name_of(size_t offset) {
    std::lock_guard<std::mutex> lock(vars_mutex);
    for (const auto& v : vars)
      if (offset >= v.offset && offset < v.offset + v.bytes)
        return v.name + "[" + std::to_string((offset - v.offset) / v.element) + "]";
    return "shared byte " + std::to_string(offset);
  }

  LaunchState& launch;
  const size_t dynamic;
  std::vector<unsigned char> data;
  std::vector<std::atomic<uint64_t>> shadow;
  std::mutex vars_mutex;
  std::vector<SharedVar> vars;
  size_t used = 0;  // bytes the current block has placed, dynamic included
};

// Per kernel thread: its block's arena, its index in the block and how many barriers it passed.
inline thread_local SharedArena* tl_arena = nullptr;
inline thread_local unsigned tl_tid = 0;
inline thread_local uint64_t tl_epoch = 1;

[[noreturn]] inline void shared_fail(const std::string& what) {
  tl_arena->launch.fail("block " + str(tl_blockIdx) + " thread " + std::to_string(tl_tid) + " " +
                        what);
  throw Aborted{};
}

inline void check_access(const void* p, bool write) {
  SharedArena& a = *tl_arena;
  const size_t offset = static_cast<const unsigned char*>(p) - a.data.data();
  std::atomic<uint64_t>& word = a.shadow[offset];
  const uint64_t me = tl_tid + 1, epoch = tl_epoch & 0x7FFFFFFF;
  uint64_t old = word.load(std::memory_order_relaxed);
  for (;;) {
    const bool same_interval = ((old >> 32) & 0x7FFFFFFF) == epoch;
    uint64_t writer = same_interval ? (old >> 16) & 0xFFFF : 0;
    uint64_t reader = same_interval ? old & 0xFFFF : 0;
    bool written = (old & kWrittenBit) != 0;
    const auto other = [&](uint64_t t) {
      return t == kManyReaders ? std::string("other threads") : "thread " + std::to_string(t - 1);
    };
    if (write) {
      if (writer != 0 && writer != me)
        shared_fail("wrote " + a.name_of(offset) + ", which " + other(writer) +
                    " also wrote since the last __syncthreads (a race: missing __syncthreads?)");
      if (reader != 0 && reader != me)
        shared_fail("wrote " + a.name_of(offset) + ", which " + other(reader) +
                    " read since the last __syncthreads (a race: missing __syncthreads?)");
      writer = me;
      written = true;
    } else {
      if (!written)
        // Either order of a racing write and read lands here or below: both messages say so.
        shared_fail("read " + a.name_of(offset) +
                    ", which no thread of its block has written yet (uninitialised shared "
                    "memory, or a missing __syncthreads before another thread's write)");
      if (writer != 0 && writer != me)
        shared_fail("read " + a.name_of(offset) + ", which " + other(writer) +
                    " wrote since the last __syncthreads (a race: missing __syncthreads?)");
      reader = (reader == 0 || reader == me) ? me : kManyReaders;
    }
    const uint64_t now = (written ? kWrittenBit : 0) | (epoch << 32) | (writer << 16) | reader;
    if (now == old || word.compare_exchange_weak(old, now, std::memory_order_relaxed)) return;
  }
}

// One shared scalar: reads and writes are checked.
template <typename T>
struct SharedRef {
  T* p;
  operator T() const {
    check_access(p, false);
    return *p;
  }
  SharedRef& operator=(T v) {
    check_access(p, true);
    *p = v;
    return *this;
  }
  SharedRef& operator=(const SharedRef& o) { return *this = static_cast<T>(o); }
  SharedRef& operator+=(T v) { return *this = static_cast<T>(*this) + v; }
  SharedRef& operator-=(T v) { return *this = static_cast<T>(*this) - v; }
  SharedRef& operator*=(T v) { return *this = static_cast<T>(*this) * v; }
  SharedRef& operator/=(T v) { return *this = static_cast<T>(*this) / v; }
};

template <typename U>
struct SharedRow;

template <typename U>
auto shared_element(U* p) {
  if constexpr (std::is_array_v<U>)
    return SharedRow<std::remove_extent_t<U>>{*p, std::extent_v<U>};
  else
    return SharedRef<U>{p};
}

// A shared array of n elements of U (itself an array for a multi-dimensional one), bounds
// checked: an index outside it is a shared-memory out-of-bounds access.
template <typename U>
struct SharedRow {
  U* p;
  size_t n;
  auto operator[](int64_t i) const {
    if (i < 0 || static_cast<size_t>(i) >= n)
      shared_fail("indexed a shared array of " + std::to_string(n) + " elements at " +
                  std::to_string(i) + " (out of bounds)");
    return shared_element(p + i);
  }
};

template <typename T>
auto shared(const char* name, int site) {
  SharedArena& a = *tl_arena;
  using E = std::remove_all_extents_t<T>;
  const size_t offset = a.place(site, name, sizeof(T), alignof(E), sizeof(E));
  if (offset + sizeof(T) > kSharedLimit)
    shared_fail("declared __shared__ " + std::string(name) + " at bytes " + std::to_string(offset) +
                ".." + std::to_string(offset + sizeof(T)) + " (after " + std::to_string(a.dynamic) +
                " of dynamic): a block may use at most " + std::to_string(kSharedLimit) +
                " bytes of shared memory on sm_80/sm_90 without cudaFuncSetAttribute");
  return shared_element(reinterpret_cast<T*>(a.data.data() + offset));
}

// The launch's dynamic shared memory (the third <<<>>> argument), at the start of the arena.
template <typename T>
SharedRow<T> dynamic_shared(const char* name) {
  SharedArena& a = *tl_arena;
  a.place(-1, name, a.dynamic, alignof(T), sizeof(T));
  return {reinterpret_cast<T*>(a.data.data()), a.dynamic / sizeof(T)};
}

}  // namespace emu
