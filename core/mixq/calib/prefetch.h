// BatchPrefetcher: BatchStream::next() `depth` batches ahead. Natively the next batches
// are read, decoded and preprocessed on a producer thread while the caller runs the
// current ones (platform/prefetch_thread.cpp); in wasm each is loaded on demand
// (platform/prefetch_serial.cpp), chosen by core/CMakeLists.txt. Batches and errors
// arrive in stream order either way: an error loading batch k is thrown by the k-th
// next(). The stream (and the reader it calls) is only ever used by one thread at a time.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "mixq/calib/batches.h"

namespace mixq::calib {

class BatchPrefetcher {
 public:
  explicit BatchPrefetcher(BatchStream& stream, int depth = 1);
  ~BatchPrefetcher();  // waits for a batch being loaded
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;
  // BatchStream::next's contract; `seconds_waited` gets the time spent blocked on loading.
  bool next(std::map<std::string, Tensor>* feed, double* seconds_waited);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mixq::calib
