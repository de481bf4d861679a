#include "mixq/calib/batches.h"

#include <algorithm>

#include "mixq/error.h"
#include "mixq/npz.h"

namespace mixq::calib {

namespace {

Tensor to_dtype(Tensor t, DType want, const std::string& what) {
  if (t.dtype() == want) return t;  // moved, not copied
  require(dtype_is_float(want) || dtype_is_integer(want),
          what + ": the model input type " + dtype_name(want) + " cannot be fed from data files");
  if (dtype_is_float(want)) return tensor_from_f64(want, t.shape(), t.to_f64());
  return tensor_from_i64(want, t.shape(), t.to_i64());
}

// Loads one sample as one tensor per graph input (leading dim = items in this sample).
std::vector<Tensor> load_sample(const Sample& sample, DataKind kind, const std::vector<Executor::InputSpec>& inputs,
                                const ReadSampleFile& read, const PreprocessOptions& pre) {
  std::vector<Tensor> out(inputs.size());
  if (kind == DataKind::Npz) {
    const std::string& file = sample.files[0];
    auto bytes = read(file);
    NpzArrays arrays = read_npz(bytes, file);
    for (size_t i = 0; i < inputs.size(); i++) {
      auto it = arrays.find(inputs[i].name);
      if (it == arrays.end() && inputs.size() == 1 && arrays.size() == 1) it = arrays.begin();
      require(it != arrays.end(), file + ": no array named '" + inputs[i].name +
                                      "' (the model's input; the npz holds " + std::to_string(arrays.size()) +
                                      " array(s))");
      out[i] = to_dtype(std::move(it->second), inputs[i].dtype, file + ":" + it->first);
    }
    return out;
  }
  for (size_t i = 0; i < inputs.size(); i++) {
    const std::string& file = sample.files[i];
    auto bytes = read(file);
    if (kind == DataKind::Npy) {
      out[i] = to_dtype(read_npy(bytes, file), inputs[i].dtype, file);
    } else {
      const Shape& s = inputs[i].shape;
      require(s.size() == 4, file + ": images feed 4-D inputs, but input '" + inputs[i].name + "' is " + shape_str(s));
      const int channels = static_cast<int>(pre.channel_format == "nhwc" ? s[3] : s[1]);
      Image img = decode_image(bytes, file, channels == 1 ? 1 : 3);
      Shape one = s;
      one[0] = 1;
      out[i] = to_dtype(preprocess_images({img}, pre, one, inputs[i].name), inputs[i].dtype, file);
    }
  }
  return out;
}

// Builds executor batches from consecutive samples: a sample whose array already has the
// input's full shape is one batch; items of batch 1 are stacked until the batch is full.
class Batcher {
 public:
  explicit Batcher(const std::vector<Executor::InputSpec>& inputs) : inputs_(inputs), pending_(inputs.size()) {}

  // Returns true when a full batch is ready in `batch`.
  bool push(std::vector<Tensor> sample, const std::string& sample_name, std::map<std::string, Tensor>* batch) {
    for (size_t i = 0; i < inputs_.size(); i++) {
      const int64_t want = shape_numel(inputs_[i].shape, inputs_[i].name);
      const int64_t have = sample[i].numel();
      const int64_t batch_n = inputs_[i].shape.empty() ? 1 : inputs_[i].shape[0];
      if (have == want) {
        require(pending_count_ == 0, sample_name + ": holds a whole batch while earlier samples were single items");
        continue;
      }
      require(batch_n > 1 && have * batch_n == want,
              sample_name + ": input '" + inputs_[i].name + "' expects shape " + shape_str(inputs_[i].shape) +
                  " (or one batch item of it) but the data has shape " + shape_str(sample[i].shape()));
    }
    const bool whole = sample[0].numel() == shape_numel(inputs_[0].shape, inputs_[0].name);
    if (whole) {
      for (size_t i = 0; i < inputs_.size(); i++) {
        Tensor t = std::move(sample[i]);
        t.reshape(inputs_[i].shape);
        (*batch)[inputs_[i].name] = std::move(t);
      }
      return true;
    }
    for (size_t i = 0; i < inputs_.size(); i++) pending_[i].push_back(std::move(sample[i]));
    pending_count_++;
    if (pending_count_ < inputs_[0].shape[0]) return false;
    flush(batch);
    return true;
  }
  // Pads the last partial batch by repeating its last sample. False when nothing pending.
  bool finish(std::map<std::string, Tensor>* batch) {
    if (pending_count_ == 0) return false;
    while (pending_count_ < inputs_[0].shape[0]) {
      for (size_t i = 0; i < inputs_.size(); i++) pending_[i].push_back(Tensor(pending_[i].back()));
      pending_count_++;
    }
    flush(batch);
    return true;
  }

 private:
  void flush(std::map<std::string, Tensor>* batch) {
    for (size_t i = 0; i < inputs_.size(); i++) {
      Tensor t(inputs_[i].dtype, inputs_[i].shape);
      auto dst = t.mutable_bytes();
      size_t off = 0;
      for (const Tensor& item : pending_[i]) {
        auto src = item.bytes();
        std::copy(src.begin(), src.end(), dst.begin() + static_cast<std::ptrdiff_t>(off));
        off += src.size();
      }
      (*batch)[inputs_[i].name] = std::move(t);
      pending_[i].clear();
    }
    pending_count_ = 0;
  }

  const std::vector<Executor::InputSpec>& inputs_;
  std::vector<std::vector<Tensor>> pending_;
  int64_t pending_count_ = 0;
};

std::string sample_name(const Sample& s) {
  std::string n;
  for (size_t i = 0; i < s.files.size(); i++) n += (i ? "," : "") + s.files[i];
  return n;
}

}  // namespace

struct BatchStream::State {
  State(const std::vector<Executor::InputSpec>& in, const DataSelection& d, const ReadSampleFile& r,
        const PreprocessOptions& p)
      : inputs(in), data(d), read(r), pre(p), batcher(in) {}
  const std::vector<Executor::InputSpec>& inputs;
  const DataSelection& data;
  const ReadSampleFile& read;
  const PreprocessOptions& pre;
  Batcher batcher;
  size_t next_sample = 0;
  bool finished = false;
};

BatchStream::BatchStream(const std::vector<Executor::InputSpec>& inputs, const DataSelection& data,
                         const ReadSampleFile& read, const PreprocessOptions& preprocess)
    : state_(std::make_unique<State>(inputs, data, read, preprocess)) {}
BatchStream::~BatchStream() = default;

bool BatchStream::next(std::map<std::string, Tensor>* feed) {
  State& s = *state_;
  while (s.next_sample < s.data.samples.size()) {
    const Sample& sample = s.data.samples[s.next_sample++];
    auto tensors = load_sample(sample, s.data.kind, s.inputs, s.read, s.pre);
    if (s.batcher.push(std::move(tensors), sample_name(sample), feed)) return true;
  }
  if (s.finished) return false;
  s.finished = true;
  return s.batcher.finish(feed);
}

}  // namespace mixq::calib
