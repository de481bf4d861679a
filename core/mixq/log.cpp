#include "mixq/log.h"

#include <cstdio>
#include <mutex>

namespace mixq {
namespace {
std::mutex g_log_mutex;
LogSink& sink_ref() {
  static LogSink sink;
  return sink;
}
const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}
}  // namespace

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  sink_ref() = std::move(sink);
}

void log(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  if (sink_ref()) {
    sink_ref()(level, message);
  } else if (level != LogLevel::Debug) {
    std::fprintf(stderr, "mixq %s: %s\n", level_name(level), message.c_str());
  }
}

}  // namespace mixq
