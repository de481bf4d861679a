// Native ThreadPool: size()-1 worker std::threads plus the calling thread pull task
// indices of the current job from per-participant ranges (Job below). The caller never waits for a
// worker that has not joined the job yet (under machine load a sleeping worker may take
// milliseconds to be scheduled): it runs the remaining tasks itself and then waits only
// for workers still inside a task (polling up to kCallerPoll before it sleeps on the
// condition variable). Between jobs an idle worker spins (yielding) for a
// short while (kSpin) before it sleeps: an inference is a stream of sub-millisecond parallel_for
// calls, and a futex wake-up per call costs as much as the work it would share. Installed
// idle work (set_idle_work) goes before joining the next job.
// See thread_pool.h for the determinism contract.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "mixq/exec/thread_pool.h"

namespace mixq {
namespace {
thread_local bool t_inside_task = false;
constexpr auto kSpin = std::chrono::microseconds(200);
constexpr auto kCallerPoll = std::chrono::microseconds(50);

// Task indices are dealt in `parts` contiguous ranges, one per participant (the caller is
// part 0, worker i part i + 1): each drains its own range first, then takes what is left
// of the others'. The same participant thus gets the same tasks in every job of a shape
// (the same columns of consecutive convs, the same channel blocks), whose data its
// core's cache still holds from the previous op; measured on two cores: a chain of
// depthwise convs 2x faster than with tasks shuffled between the cores. A worker that
// joins late (or never) only loses its range to the others.
struct Job {
  const std::function<void(int64_t)>* task = nullptr;
  int64_t tasks = 0;
  int parts = 1;
  std::unique_ptr<std::atomic<int64_t>[]> next;  // per part: its next task index
  std::atomic<int> joined{0};                    // workers inside run_tasks (changed under the pool mutex)
  std::exception_ptr error;
  int64_t begin(int part) const { return tasks * part / parts; }
};
}  // namespace

struct ThreadPool::Impl {
  int size = 1;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable wake, finished;
  std::atomic<uint64_t> generation{0};  // written under mu, read by spinning workers
  Job* job = nullptr;
  bool stop = false;
  std::atomic<const std::function<bool()>*> idle_work{nullptr};
  std::atomic<int> inside_idle_work{0};
  uint64_t idle_posts = 0;  // under mu: post_idle_work() calls, to wake sleepers

  // Runs the idle work once; true if it did something.
  bool try_idle_work() {
    inside_idle_work.fetch_add(1);  // seq_cst pairs with set_idle_work's store-then-load
    bool did = false;
    if (const auto* work = idle_work.load()) {
      bool was_inside = t_inside_task;
      t_inside_task = true;
      did = (*work)();
      t_inside_task = was_inside;
    }
    inside_idle_work.fetch_sub(1);
    return did;
  }

  // Participant `part`'s share of job j: its own range, then the rest of the others'.
  void run_tasks(Job& j, int part) {
    bool was_inside = t_inside_task;
    t_inside_task = true;
    for (int k = 0; k < j.parts; ++k) {
      const int q = (part + k) % j.parts;
      const int64_t end = j.begin(q + 1);
      for (;;) {
        int64_t i = j.next[q].fetch_add(1);
        if (i >= end) break;
        try {
          (*j.task)(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!j.error) j.error = std::current_exception();
        }
      }
    }
    t_inside_task = was_inside;
  }

  void worker_loop(int part) {
    uint64_t seen = 0, seen_posts = 0;
    for (;;) {
      // Idle work first (a job's caller does not wait for workers that have not joined),
      // then the next job; spin briefly before sleeping on the condition variable.
      auto until = std::chrono::steady_clock::now() + kSpin;
      for (;;) {
        if (try_idle_work()) {
          until = std::chrono::steady_clock::now() + kSpin;
          continue;
        }
        if (generation.load(std::memory_order_acquire) != seen || std::chrono::steady_clock::now() >= until) break;
        std::this_thread::yield();  // other runnable threads (a data loader) keep the core
      }
      Job* j;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return stop || (job != nullptr && generation != seen) || idle_posts != seen_posts; });
        if (stop) return;
        if (job == nullptr || generation == seen) {  // woken for idle work
          seen_posts = idle_posts;
          continue;
        }
        seen = generation;
        j = job;
        ++j->joined;
      }
      run_tasks(*j, part);
      std::lock_guard<std::mutex> lock(mu);
      if (--j->joined == 0) finished.notify_all();
    }
  }
};

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>()) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  impl_->size = threads;
  for (int i = 1; i < threads; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
}

void ThreadPool::set_idle_work(const std::function<bool()>* work) {
  impl_->idle_work.store(work);
  while (impl_->inside_idle_work.load() != 0) std::this_thread::yield();
  if (work) post_idle_work();
}

void ThreadPool::post_idle_work() {
  Impl& s = *impl_;
  if (s.workers.empty()) return;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.idle_posts;
  }
  s.wake.notify_all();
}

int ThreadPool::size() const {
  return impl_->size;
}

void ThreadPool::parallel_for(int64_t tasks, const std::function<void(int64_t)>& task) {
  if (tasks <= 0) return;
  Impl& s = *impl_;
  if (s.workers.empty() || tasks == 1 || t_inside_task) {
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
  Job j;
  j.task = &task;
  j.tasks = tasks;
  j.parts = s.size;
  j.next = std::make_unique<std::atomic<int64_t>[]>(size_t(j.parts));
  for (int q = 0; q < j.parts; ++q) j.next[q].store(j.begin(q), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.job = &j;
    ++s.generation;
  }
  s.wake.notify_all();
  s.run_tasks(j, 0);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.job = nullptr;  // no worker joins any more: j.joined only goes down
  }
  // A worker still inside a task usually finishes within microseconds: poll briefly
  // before sleeping on the condition variable (a futex sleep and wake-up per call cost
  // tens of microseconds: fastestdet's small convs ran slower on two threads than on one).
  const auto until = std::chrono::steady_clock::now() + kCallerPoll;
  while (j.joined.load(std::memory_order_acquire) != 0 && std::chrono::steady_clock::now() < until) {
  }
  {
    std::unique_lock<std::mutex> lock(s.mu);  // also waits until the last worker left its locked decrement
    s.finished.wait(lock, [&] { return j.joined.load() == 0; });
  }
  if (j.error) std::rethrow_exception(j.error);
}

}  // namespace mixq
