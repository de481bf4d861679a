#include "mixq/calib/dataset.h"

#include <algorithm>

#include "mixq/calib/py_random.h"
#include "mixq/error.h"

namespace mixq::calib {

namespace {

std::string lower_extension(const std::string& name) {
  size_t dot = name.rfind('.');
  std::string ext = dot == std::string::npos ? name : name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string strip(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back(strip(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

const char* data_kind_name(DataKind kind) {
  switch (kind) {
    case DataKind::Npz:
      return "npz";
    case DataKind::Npy:
      return "npy";
    case DataKind::Image:
      return "image";
  }
  return "?";
}

bool data_kind_of(const std::string& file_name, DataKind* kind) {
  std::string ext = lower_extension(file_name);
  if (ext == "npz") {
    *kind = DataKind::Npz;
  } else if (ext == "npy") {
    *kind = DataKind::Npy;
  } else if (ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "jfif") {
    *kind = DataKind::Image;
  } else {
    return false;
  }
  return true;
}

DataSelection select_dataset(std::vector<std::string> paths, int input_num, const std::string& dataset_name) {
  std::vector<std::string> files;
  for (auto& p : paths) {
    DataKind kind;
    if (data_kind_of(p, &kind)) files.push_back(std::move(p));
  }
  std::sort(files.begin(), files.end());  // byte order of UTF-8 == Python's code-point order
  PyRandom rng(1684);
  rng.shuffle(files);
  DataSelection sel;
  sel.available = files.size();
  require(!files.empty(), dataset_name +
                              ": no calibration data (expected files ending in .npz, .npy, .jpg, "
                              ".jpeg, .png, .bmp or .jfif)");
  size_t num = input_num > 0 && static_cast<size_t>(input_num) < files.size() ? input_num : files.size();
  for (size_t i = 0; i < num; i++) sel.samples.push_back(Sample{{files[i]}});
  DataKind kind;
  data_kind_of(sel.samples[0].files[0], &kind);
  sel.kind = kind;
  return sel;
}

DataSelection parse_data_list(const std::string& text, int input_num, const std::string& list_name) {
  DataSelection sel;
  size_t start = 0;
  int line_no = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    line_no++;
    start = nl == std::string::npos ? text.size() + 1 : nl + 1;
    line = strip(line);
    if (line.empty()) continue;
    Sample sample;
    sample.files = split_commas(line);
    for (const auto& f : sample.files) {
      DataKind kind;
      require(!f.empty() && data_kind_of(f, &kind),
              list_name + ":" + std::to_string(line_no) + ": '" + f +
                  "' is not a calibration file (expected .npz, .npy, .jpg, .jpeg, .png, .bmp or .jfif)");
    }
    sel.samples.push_back(std::move(sample));
  }
  sel.available = sel.samples.size();
  require(!sel.samples.empty(), list_name + ": the data list names no samples");
  if (input_num > 0 && static_cast<size_t>(input_num) < sel.samples.size()) sel.samples.resize(input_num);
  DataKind kind;
  data_kind_of(sel.samples[0].files[0], &kind);
  sel.kind = kind;
  return sel;
}

void check_selection(DataSelection& selection, size_t num_inputs, const std::string& source_name) {
  require(!selection.samples.empty(), source_name + ": no samples");
  DataKind first;
  data_kind_of(selection.samples[0].files[0], &first);
  selection.kind = first;
  for (size_t i = 0; i < selection.samples.size(); i++) {
    const Sample& s = selection.samples[i];
    for (const auto& f : s.files) {
      DataKind kind;
      require(data_kind_of(f, &kind),
              source_name + ": sample " + std::to_string(i + 1) + ": '" + f + "' is not a calibration file");
      require(kind == first, source_name + ": sample " + std::to_string(i + 1) + " ('" + f + "') is " +
                                 data_kind_name(kind) + " but earlier samples are " + data_kind_name(first) +
                                 "; TPU-MLIR supports only one input type per dataset (npy, npz or image)");
    }
    if (first == DataKind::Npz) {
      require(s.files.size() == 1,
              source_name + ": sample " + std::to_string(i + 1) + ": an npz sample is one file holding every input");
    } else {
      require(s.files.size() == num_inputs, source_name + ": sample " + std::to_string(i + 1) + " has " +
                                                std::to_string(s.files.size()) + " file(s) but the model has " +
                                                std::to_string(num_inputs) +
                                                " input(s) (write one comma-separated line per sample in --data_list)");
    }
  }
}

}  // namespace mixq::calib
