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
  // exception thrown by a task is re-thrown here once no task is running any more
  // (tasks not started by then may be skipped: the serial pool stops at the exception).
  void parallel_for(int64_t tasks, const std::function<void(int64_t)>& task);

  // Idle work: between the tasks of parallel_for jobs, workers call `*work` (as if inside
  // a task: a parallel_for it makes runs serially) until it returns false, and only then
  // join the next job or spin/sleep as usual (a job's caller runs the tasks no worker
  // took); post_idle_work() wakes sleeping workers to call it again. `work` must be
  // cheap when there is nothing to do and safe to call from several workers at once.
  // set_idle_work(nullptr) returns once no worker is inside the previous function.
  // The serial (wasm) pool has no workers: both are no-ops there.
  void set_idle_work(const std::function<bool()>* work);
  void post_idle_work();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mixq
