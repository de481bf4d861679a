#include "io/model_file.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "io/file_io.h"

namespace mixq::native {

AnalyzeOptions analyze_options_for(const std::string& model_path, const std::string& input_shapes_text,
                                   const std::string& mlir_path) {
  AnalyzeOptions ao;
  ao.load = load_options_for(model_path);
  if (!input_shapes_text.empty()) ao.input_shapes = parse_input_shapes(input_shapes_text);
  if (!mlir_path.empty()) {
    ao.mlir_text = read_text_file(mlir_path);
    ao.mlir_source = mlir_path;
  }
  return ao;
}

AnalyzedModel analyze_model_file(const std::string& model_path, const std::string& input_shapes_text,
                                 const std::string& mlir_path) {
  AnalyzeOptions ao = analyze_options_for(model_path, input_shapes_text, mlir_path);
  auto bytes = read_file(model_path);
  return analyze_model(bytes, ao);
}

std::string generated_time_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm local{};
  localtime_r(&t, &local);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%06lld", buf, static_cast<long long>(us));
  return out;
}

}  // namespace mixq::native
