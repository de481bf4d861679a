// BatchPrefetcher natively: one batch ahead on one producer thread for the whole run
// (prefetch.h). (Tried: a lower priority for the producer starved the loading on a
// loaded machine; a new thread per batch spread allocations over malloc arenas.)
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "mixq/calib/prefetch.h"

namespace mixq::calib {

struct BatchPrefetcher::Impl {
  explicit Impl(BatchStream& s) : stream(s) {}
  BatchStream& stream;
  std::mutex mutex;
  std::condition_variable cv;
  bool wanted = false;  // the consumer asked for the next batch
  bool ready = false;   // `loaded` holds it (or `error`)
  bool quit = false;
  bool more = false;
  bool ended = false;  // consumer side: the stream ended or failed
  std::map<std::string, Tensor> loaded;
  std::exception_ptr error;
  std::thread thread;

  void produce() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      cv.wait(lock, [&] { return wanted || quit; });
      if (quit) return;
      wanted = false;
      lock.unlock();
      std::map<std::string, Tensor> feed;
      bool m = false;
      std::exception_ptr e;
      try {
        m = stream.next(&feed);
      } catch (...) {
        e = std::current_exception();
      }
      lock.lock();
      loaded = std::move(feed);
      more = m;
      error = e;
      ready = true;
      cv.notify_all();
    }
  }
  void request() {
    std::lock_guard<std::mutex> lock(mutex);
    wanted = true;
    cv.notify_all();
  }
};

BatchPrefetcher::BatchPrefetcher(BatchStream& stream) : impl_(std::make_unique<Impl>(stream)) {}

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
  if (!s.thread.joinable()) {
    s.thread = std::thread([&s] { s.produce(); });
    s.request();
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(s.mutex);
  s.cv.wait(lock, [&] { return s.ready; });
  *seconds_waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.ready = false;
  if (s.error || !s.more) {
    s.ended = true;
    if (s.error) std::rethrow_exception(s.error);  // in stream order
    return false;
  }
  *feed = std::move(s.loaded);
  s.loaded.clear();
  s.wanted = true;  // the following batch loads while the caller runs this one
  s.cv.notify_all();
  return true;
}

}  // namespace mixq::calib
