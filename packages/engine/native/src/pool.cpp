// The thread pool: workers spin briefly after each job (kernels come in quick succession during a training
// step, and waking a sleeping thread costs tens of microseconds), then sleep on a condition variable.
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() { std::this_thread::yield(); }
#endif

namespace {

constexpr auto kSpinTime = std::chrono::microseconds(200);

struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;
};

struct Pool {
  std::mutex mutex;
  std::condition_variable wake;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stopping{false};

  ownlm_task_fn fn = nullptr;
  void* ctx = nullptr;
  int64_t tasks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int> pending{0};

  int threads = 1;
  std::vector<Buffer> scratch;  // threads x OWNLM_SCRATCH_SLOTS
};

Pool& pool() {
  static Pool* instance = new Pool();  // never destroyed: workers may outlive static destructors at exit
  return *instance;
}

void drain(Pool& p, int thread) {
  for (;;) {
    int64_t t = p.next.fetch_add(1, std::memory_order_relaxed);
    if (t >= p.tasks) return;
    p.fn(p.ctx, t, thread);
  }
}

/** seen: the generation when the worker was created; a job published before the thread runs is not missed. */
void worker_main(int thread, uint64_t seen) {
  Pool& p = pool();
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    uint64_t g;
    int spins = 0;
    while ((g = p.generation.load(std::memory_order_acquire)) == seen) {
      if (p.stopping.load(std::memory_order_acquire)) return;
      cpu_relax();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() - start > kSpinTime) {
        std::unique_lock<std::mutex> lock(p.mutex);
        p.wake.wait(lock, [&] {
          return p.generation.load(std::memory_order_acquire) != seen || p.stopping.load(std::memory_order_acquire);
        });
      }
    }
    seen = g;
    if (p.stopping.load(std::memory_order_acquire)) return;
    drain(p, thread);
    p.pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void stop_workers(Pool& p) {
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.stopping.store(true, std::memory_order_release);
  }
  p.wake.notify_all();
  for (auto& w : p.workers) w.join();
  p.workers.clear();
  p.stopping.store(false, std::memory_order_release);
}

}  // namespace

extern "C" {

void ownlm_pool_run(int64_t tasks, ownlm_task_fn fn, void* ctx) {
  Pool& p = pool();
  if (tasks <= 0) return;
  if (tasks == 1 || p.workers.empty()) {
    for (int64_t t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  p.fn = fn;
  p.ctx = ctx;
  p.tasks = tasks;
  p.next.store(0, std::memory_order_relaxed);
  p.pending.store(static_cast<int>(p.workers.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.wake.notify_all();
  drain(p, 0);
  int spins = 0;
  while (p.pending.load(std::memory_order_acquire) != 0) {
    cpu_relax();
    // A worker may have been descheduled on a busy machine; stop burning its core meanwhile.
    if (++spins > 4096) std::this_thread::yield();
  }
}

int ownlm_pool_threads(void) { return pool().threads; }

void ownlm_pool_set_threads(int count) {
  Pool& p = pool();
  if (count < 1) count = 1;
  stop_workers(p);
  p.threads = count;
  if (p.scratch.size() < static_cast<size_t>(count) * OWNLM_SCRATCH_SLOTS) {
    p.scratch.resize(static_cast<size_t>(count) * OWNLM_SCRATCH_SLOTS);
  }
  uint64_t now = p.generation.load(std::memory_order_acquire);
  for (int t = 1; t < count; t++) p.workers.emplace_back(worker_main, t, now);
}

float* ownlm_pool_scratch(int thread, int slot, size_t floats) {
  Pool& p = pool();
  if (p.scratch.empty()) p.scratch.resize(OWNLM_SCRATCH_SLOTS);
  Buffer& b = p.scratch[static_cast<size_t>(thread) * OWNLM_SCRATCH_SLOTS + slot];
  if (b.capacity < floats) {
    free(b.data);
    size_t bytes = (floats * sizeof(float) + 63) & ~static_cast<size_t>(63);
    b.data = static_cast<float*>(aligned_alloc(64, bytes));
    if (!b.data) {
      fprintf(stderr, "ownlm: out of memory allocating %zu bytes of kernel scratch\n", bytes);
      abort();
    }
    b.capacity = floats;
  }
  return b.data;
}

}  // extern "C"
