// Subcommand registry of the `finmerge` front end. Each src/cli/cmd_*.cpp registers its subcommand with
// FM_REGISTER_COMMAND, so adding a command touches one new file. Commands are thin: parse flags, call the
// library, print a one-line summary, turn a Status into an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm::cli {

// Adds the subcommand's options to `sub` and returns the function that runs it (returns the exit code).
using CommandSetup = std::function<std::function<int()>(CLI::App& sub)>;

struct CommandEntry {
  std::string name;
  std::string description;
  CommandSetup setup;
};

std::vector<CommandEntry>& CommandRegistry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string description, CommandSetup setup) {
    CommandRegistry().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

// Prints "finmerge: error: <message>" on stderr and returns the exit code for `s` (1, or 2 for bad arguments).
int ReportError(const Status& s);

}  // namespace fm::cli

#define FM_CONCAT_INNER(a, b) a##b
#define FM_CONCAT(a, b) FM_CONCAT_INNER(a, b)
// Variadic so that a lambda with commas (capture lists) can be passed unparenthesised.
#define FM_REGISTER_COMMAND(name, description, ...) \
  static ::fm::cli::CommandRegistrar FM_CONCAT(fm_command_registrar_, __COUNTER__)(name, description, __VA_ARGS__)
