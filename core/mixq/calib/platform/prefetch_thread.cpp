// BatchPrefetcher natively: `depth` batches ahead on one producer thread for the whole run
// (prefetch.h). (Tried: a lower priority for the producer starved the loading on a
// loaded machine; a new thread per batch spread allocations over malloc arenas.)
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "mixq/calib/prefetch.h"

namespace mixq::calib {

struct BatchPrefetcher::Impl {
  Impl(BatchStream& s, int d) : stream(s), depth(std::max(1, d)) {}
  BatchStream& stream;
  const size_t depth;
  struct Loaded {
    std::map<std::string, Tensor> feed;
    bool more = false;
    std::exception_ptr error;
  };
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Loaded> queue;  // loaded batches (the last one may be the end or an error)
  bool wanted = false;       // the consumer has asked for a first batch
  bool stream_done = false;  // producer side: the stream ended or failed
  bool quit = false;
  bool ended = false;  // consumer side: the stream ended or failed
  std::thread thread;

  void produce() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      cv.wait(lock, [&] { return quit || (wanted && !stream_done && queue.size() < depth); });
      if (quit) return;
      lock.unlock();
      Loaded l;
      try {
        l.more = stream.next(&l.feed);
      } catch (...) {
        l.error = std::current_exception();
      }
      lock.lock();
      stream_done = !l.more || l.error;
      queue.push_back(std::move(l));
      cv.notify_all();
    }
  }
};

BatchPrefetcher::BatchPrefetcher(BatchStream& stream, int depth) : impl_(std::make_unique<Impl>(stream, depth)) {}

BatchPrefetcher::~BatchPrefetcher() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.quit = true;  // a batch being loaded finishes first
    s.cv.notify_all();
  }
  s.thread.join();
}

bool BatchPrefetcher::next(std::map<std::string, Tensor>* feed, double* seconds_waited) {
  Impl& s = *impl_;
  if (s.ended) return false;
  if (!s.thread.joinable()) s.thread = std::thread([&s] { s.produce(); });
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(s.mutex);
  s.wanted = true;
  s.cv.notify_all();
  s.cv.wait(lock, [&] { return !s.queue.empty(); });
  *seconds_waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Impl::Loaded l = std::move(s.queue.front());
  s.queue.pop_front();
  s.cv.notify_all();  // room for the producer: the following batches load while the caller runs this one
  if (l.error || !l.more) {
    s.ended = true;
    if (l.error) std::rethrow_exception(l.error);  // in stream order
    return false;
  }
  *feed = std::move(l.feed);
  return true;
}

}  // namespace mixq::calib
