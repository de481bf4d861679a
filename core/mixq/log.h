// One log sink for the whole core: stderr in the CLI, a log panel in the studio, the
// console on the web. The host installs a callback; the default writes to stderr.
#pragma once
#include <functional>
#include <string>

namespace mixq {

enum class LogLevel { Debug, Info, Warning, Error };
using LogSink = std::function<void(LogLevel, const std::string&)>;

// Replaces the sink (nullptr restores the stderr default). Not thread-safe against
// concurrent logging; set it once at start-up.
void set_log_sink(LogSink sink);
void log(LogLevel level, const std::string& message);
inline void log_info(const std::string& m) {
  log(LogLevel::Info, m);
}
inline void log_warning(const std::string& m) {
  log(LogLevel::Warning, m);
}

}  // namespace mixq
