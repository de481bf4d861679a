// BatchPrefetcher natively: one batch ahead on a producer thread (prefetch.h). (A lower
// priority for the producer was tried: on a loaded machine it starved the loading.)
#include <chrono>
#include <future>

#include "mixq/calib/prefetch.h"

namespace mixq::calib {

namespace {
struct Loaded {
  bool more = false;
  std::map<std::string, Tensor> feed;
};
}  // namespace

struct BatchPrefetcher::Impl {
  BatchStream& stream;
  std::future<Loaded> pending;
  bool ended = false;

  void launch() {
    pending = std::async(std::launch::async, [this] {
      Loaded l;
      l.more = stream.next(&l.feed);
      return l;
    });
  }
};

BatchPrefetcher::BatchPrefetcher(BatchStream& stream) : impl_(std::make_unique<Impl>(Impl{stream, {}, false})) {}

BatchPrefetcher::~BatchPrefetcher() {
  if (impl_->pending.valid()) impl_->pending.wait();
}

bool BatchPrefetcher::next(std::map<std::string, Tensor>* feed, double* seconds_waited) {
  Impl& s = *impl_;
  if (s.ended) return false;
  if (!s.pending.valid()) s.launch();
  const auto t0 = std::chrono::steady_clock::now();
  Loaded l;
  try {
    l = s.pending.get();  // rethrows the loader's error, in stream order
  } catch (...) {
    *seconds_waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s.ended = true;
    throw;
  }
  *seconds_waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!l.more) {
    s.ended = true;
    return false;
  }
  s.launch();  // the following batch loads while the caller runs this one
  *feed = std::move(l.feed);
  return true;
}

}  // namespace mixq::calib
