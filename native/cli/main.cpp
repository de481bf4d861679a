// mixq — command-line front end. Subcommands live in cmd_*.cpp; spec/cli.md is the contract.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "io/file_io.h"
#include "mixq/error.h"

namespace mixq::cli {

int g_exit_code = 0;

void write_json_report(const std::string& json_path, const nlohmann::json& report) {
  std::string text = report.dump(2) + "\n";
  if (json_path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    native::write_file_atomic(json_path, text);
  }
}

}  // namespace mixq::cli

int main(int argc, char** argv) {
  CLI::App app{"mixq — mixed-precision quantization studio for Sophgo TPUs (TPU-MLIR compatible)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mixq 0.1.0");
  mixq::cli::add_info_command(app);
  mixq::cli::add_qtable_command(app);
  mixq::cli::add_fp_forward_command(app);
  mixq::cli::add_run_command(app);
  mixq::cli::add_calibrate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const mixq::Error& e) {
    std::fprintf(stderr, "mixq: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "mixq: error: out of memory\n");
    return 2;
  }
  return mixq::cli::g_exit_code;
}
