// Subcommand registry of the `mixq` CLI. Each cmd_*.cpp adds its subcommand to the CLI11
// app and returns the exit code via the callback (spec/cli.md: 0 ok, 1 a check failed,
// 2 bad usage or bad input).
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace mixq::cli {

// Set by a subcommand's callback; main() returns it.
extern int g_exit_code;

void add_info_command(CLI::App& app);
void add_qtable_command(CLI::App& app);
void add_fp_forward_command(CLI::App& app);
// Local time as TPU-MLIR's generator headers write it ("2024-01-01 12:00:00.000000").
std::string generated_time_now();
void add_run_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);

// Writes `report` to `json_path` ("-" = stdout) atomically.
void write_json_report(const std::string& json_path, const nlohmann::json& report);

}  // namespace mixq::cli
