// BatchStream: turns a DataSelection into executor feeds, as run_calibration.py batches:
// npz samples hold every input by name (a lone array feeds a single-input model); npy and
// image samples have one file per input (images go through preprocess.h); a sample
// whose arrays have the input's full shape is one batch, single items (leading dim 1)
// are stacked `batch` at a time and the last batch is filled by repeating the last sample.
// Values are converted to the input's dtype.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mixq/calib/calibrate.h"
#include "mixq/exec/executor.h"

namespace mixq::calib {

class BatchStream {
 public:
  BatchStream(const std::vector<Executor::InputSpec>& inputs, const DataSelection& data, const ReadSampleFile& read,
              const PreprocessOptions& preprocess);
  ~BatchStream();
  // Fills `feed` with the next batch; false at the end. Throws mixq::Error naming the sample.
  bool next(std::map<std::string, Tensor>* feed);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mixq::calib
