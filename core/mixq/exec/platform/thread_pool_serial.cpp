// Serial ThreadPool for WebAssembly (single-threaded build): tasks run in order.
#include "mixq/exec/thread_pool.h"

namespace mixq {

struct ThreadPool::Impl {};

ThreadPool::ThreadPool(int) {}
ThreadPool::~ThreadPool() = default;
int ThreadPool::size() const {
  return 1;
}
void ThreadPool::parallel_for(int64_t tasks, const std::function<void(int64_t)>& task) {
  for (int64_t i = 0; i < tasks; ++i) task(i);
}
void ThreadPool::set_idle_work(const std::function<bool()>*) {}
void ThreadPool::post_idle_work() {}

}  // namespace mixq
