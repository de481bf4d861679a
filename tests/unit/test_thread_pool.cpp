// ThreadPool::parallel_for: every task index runs exactly once for any task and thread
// count (tasks are dealt in per-participant ranges and taken over by the others when a
// participant is late); a task's exception reaches the caller; a
// parallel_for inside a task runs serially on that thread.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mixq/exec/thread_pool.h"

using mixq::ThreadPool;

TEST_CASE("parallel_for runs every task exactly once, for any task and thread count") {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t tasks : {1, 2, 3, 4, 7, 64, 1001}) {
      INFO("threads " << threads << ", tasks " << tasks);
      std::vector<std::atomic<int>> runs(static_cast<size_t>(tasks));
      for (int rep = 0; rep < 3; ++rep)
        pool.parallel_for(tasks, [&](int64_t i) {
          if (i % 5 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));  // uneven tasks
          runs[size_t(i)].fetch_add(1);
        });
      int wrong = 0;
      for (auto& r : runs) wrong += r.load() != 3;
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("parallel_for: a busy worker's range is run by the caller") {
  // The worker is held inside idle work (which it takes before joining a job) while this
  // thread runs a job: the caller must run every task, the worker's range included.
  ThreadPool pool(2);
  if (pool.size() < 2) return;  // the serial (wasm) pool has no workers
  std::atomic<bool> armed{false}, busy{false}, release{false};
  const std::function<bool()> hold = [&] {
    if (!armed.load() || release.load()) return false;  // set_idle_work waits for callers inside
    busy.store(true);
    while (!release.load()) std::this_thread::yield();
    return true;
  };
  pool.set_idle_work(&hold);
  armed.store(true);
  pool.post_idle_work();
  while (!busy.load()) std::this_thread::yield();
  const auto caller = std::this_thread::get_id();
  std::atomic<int> on_caller{0};
  pool.parallel_for(8, [&](int64_t) { on_caller.fetch_add(std::this_thread::get_id() == caller ? 1 : 0); });
  release.store(true);
  pool.set_idle_work(nullptr);
  CHECK(on_caller.load() == 8);
}

TEST_CASE("parallel_for rethrows a task's exception after the job; the pool keeps working") {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH(pool.parallel_for(50,
                                      [&](int64_t i) {
                                        ran.fetch_add(1);
                                        if (i == 17) throw std::runtime_error("task 17 failed");
                                      }),
                    "task 17 failed");
  CHECK(ran.load() >= 18);  // every task up to the failing one ran (the threaded pool runs all)
  std::atomic<int> again{0};
  pool.parallel_for(20, [&](int64_t) { again.fetch_add(1); });
  CHECK(again.load() == 20);
}

TEST_CASE("parallel_for inside a task runs serially on the calling thread") {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> inner_on_same_thread(4);
  pool.parallel_for(4, [&](int64_t i) {
    const auto outer = std::this_thread::get_id();
    pool.parallel_for(10, [&](int64_t) {
      if (std::this_thread::get_id() == outer) inner_on_same_thread[size_t(i)].fetch_add(1);
    });
  });
  for (auto& n : inner_on_same_thread) CHECK(n.load() == 10);
}
