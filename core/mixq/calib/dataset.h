// Calibration data selection, exactly as TPU-MLIR's DataSelector (run_calibration.py):
//   --dataset DIR: every file whose lower-cased extension (after the last '.') is npz, npy,
//     jpg, jpeg, png, bmp or jfif (the host lists the directory recursively and passes the
//     path strings "DIR/sub/name"), sorted by code point, shuffled with random.seed(1684)
//     (PyRandom), the first `input_num` kept (0 or more than available = all);
//   --data_list FILE: one sample a line (stripped), comma-separated files for multi-input
//     models, the first `input_num` lines kept; blank lines are skipped (TPU-MLIR aborts).
// All samples must be of one kind (npz, npy or image); a sample of npy/images has one file
// per model input. The core never touches the file system: paths are names, bytes come
// from the host (see calibrate.h).
#pragma once
#include <string>
#include <vector>

namespace mixq::calib {

enum class DataKind { Npz, Npy, Image };
const char* data_kind_name(DataKind kind);

// The kind a file name implies from its extension, or false when it is none of them.
bool data_kind_of(const std::string& file_name, DataKind* kind);

struct Sample {
  std::vector<std::string> files;  // one per model input (one npz for all inputs)
};

struct DataSelection {
  DataKind kind = DataKind::Image;
  std::vector<Sample> samples;
  size_t available = 0;  // files (or lines) before the input_num cut
};

// `paths`: every file found under the dataset directory (any order; non-data files are
// ignored here, as DataSelector does). Throws mixq::Error when nothing usable remains.
DataSelection select_dataset(std::vector<std::string> paths, int input_num, const std::string& dataset_name);

// `text`: the --data_list file's content. Throws mixq::Error naming `list_name` and the line.
DataSelection parse_data_list(const std::string& text, int input_num, const std::string& list_name);

// Checks one kind for all samples and, for npy/image samples, `num_inputs` files each
// (npz samples hold all inputs). Throws mixq::Error naming the sample.
void check_selection(DataSelection& selection, size_t num_inputs, const std::string& source_name);

}  // namespace mixq::calib
