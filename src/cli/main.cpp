// finmerge: build instruction-tuned domain LLMs without instruction data (continual pretraining + merging).
#include <algorithm>
#include <cstdio>

#include "cli/command.h"

namespace fm::cli {

std::vector<CommandEntry>& CommandRegistry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

int ReportError(const Status& s) {
  std::fprintf(stderr, "finmerge: error: %s\n", s.message().c_str());
  return s.code() == Status::Code::kInvalidArgument ? 2 : 1;
}

}  // namespace fm::cli

int main(int argc, char** argv) {
  CLI::App app{
      "finmerge: build instruction-tuned domain LLMs without instruction data\n"
      "(continual pretraining on domain text + adding the instruction vector: theta_cpt + w*(theta_inst - theta_base))"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "finmerge 0.1.0");
  auto& registry = fm::cli::CommandRegistry();
  std::sort(registry.begin(), registry.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& entry : registry) {
    CLI::App* sub = app.add_subcommand(entry.name, entry.description);
    runners.emplace_back(sub, entry.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Bad arguments read like every other error: one line, what is wrong and where to look.
    std::string command = "finmerge";
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    std::fprintf(stderr, "finmerge: error: %s (see '%s --help')\n", e.what(), command.c_str());
    return 2;
  }
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) {
      try {
        return run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "finmerge: error: %s\n", e.what());
        return 1;
      }
    }
  }
  return 2;
}
