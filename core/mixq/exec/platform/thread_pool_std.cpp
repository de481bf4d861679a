// Native ThreadPool: size()-1 worker std::threads plus the calling thread pull task
// indices from one atomic counter. See thread_pool.h for the determinism contract.
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "mixq/exec/thread_pool.h"

namespace mixq {
namespace {
thread_local bool t_inside_task = false;
}

struct ThreadPool::Impl {
  int size = 1;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable wake, finished;
  uint64_t generation = 0;
  bool stop = false;
  // Current job.
  const std::function<void(int64_t)>* task = nullptr;
  int64_t tasks = 0;
  std::atomic<int64_t> next{0};
  int active = 0;  // workers still inside the current job
  std::exception_ptr error;

  void work() {
    t_inside_task = true;
    for (;;) {
      int64_t i = next.fetch_add(1);
      if (i >= tasks) break;
      try {
        (*task)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    }
    t_inside_task = false;
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      work();
      std::lock_guard<std::mutex> lock(mu);
      if (--active == 0) finished.notify_all();
    }
  }
};

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>()) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  impl_->size = threads;
  for (int i = 1; i < threads; ++i) impl_->workers.emplace_back([this] { impl_->worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
}

int ThreadPool::size() const { return impl_->size; }

void ThreadPool::parallel_for(int64_t tasks, const std::function<void(int64_t)>& task) {
  if (tasks <= 0) return;
  if (impl_->workers.empty() || tasks == 1 || t_inside_task) {
    bool was_inside = t_inside_task;
    t_inside_task = true;
    try {
      for (int64_t i = 0; i < tasks; ++i) task(i);
    } catch (...) {
      t_inside_task = was_inside;
      throw;
    }
    t_inside_task = was_inside;
    return;
  }
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.task = &task;
    s.tasks = tasks;
    s.next = 0;
    s.error = nullptr;
    s.active = int(s.workers.size());
    ++s.generation;
  }
  s.wake.notify_all();
  s.work();
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.finished.wait(lock, [&] { return s.active == 0; });
    s.task = nullptr;
    error = s.error;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace mixq
