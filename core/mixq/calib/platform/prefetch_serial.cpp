// BatchPrefetcher for single-threaded wasm: loads each batch when asked (prefetch.h).
#include <chrono>

#include "mixq/calib/prefetch.h"

namespace mixq::calib {

struct BatchPrefetcher::Impl {
  BatchStream& stream;
};

BatchPrefetcher::BatchPrefetcher(BatchStream& stream, int /*depth*/) : impl_(std::make_unique<Impl>(Impl{stream})) {}
BatchPrefetcher::~BatchPrefetcher() = default;

bool BatchPrefetcher::next(std::map<std::string, Tensor>* feed, double* seconds_waited) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool more = impl_->stream.next(feed);
  *seconds_waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return more;
}

}  // namespace mixq::calib
