// ThreadPool: the executor's parallel_for. Natively a fixed set of std::threads
// (platform/thread_pool_std.cpp); in wasm a serial loop (platform/thread_pool_serial.cpp),
// chosen by core/CMakeLists.txt.
//
// Determinism contract: callers split work into tasks whose boundaries do NOT depend on
// the thread count, and each task writes only its own outputs; results are then
// byte-identical for any number of threads. A parallel_for called from inside a task
// runs serially on the calling thread.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace mixq {

class ThreadPool {
 public:
  // threads <= 0: all hardware threads natively (1 in wasm).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Runs task(i) for every i in [0, tasks) and returns when all are done. The first
  // exception thrown by a task is re-thrown here (after all tasks finished).
  void parallel_for(int64_t tasks, const std::function<void(int64_t)>& task);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mixq
