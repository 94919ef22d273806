// sweep: the companion tool. Thin: parse the command line, dispatch.
#include <CLI/CLI.hpp>

#include "sweep/commands.h"

using namespace claimsweep;

int main(int argc, char** argv) {
  CLI::App app{"claimsweep: hyperparameter sweeps on Slurm with no server; the directory is the database."};
  app.set_version_flag("--version", std::string("sweep (claimsweep) ") + CLAIMSWEEP_VERSION);
  app.require_subcommand(1);

  std::string spec, dir, format = "table";
  int limit = 50;

  auto* validate = app.add_subcommand("validate", "Check a spec and print its point count; creates nothing");
  validate->add_option("SPEC", spec, "spec file (.textproto)")->required();

  auto* init = app.add_subcommand("init", "Validate SPEC and freeze it into DIR (a new sweep)");
  init->add_option("SPEC", spec, "spec file (.textproto)")->required();
  init->add_option("DIR", dir, "sweep directory to create")->required();

  auto* status = app.add_subcommand("status", "Counts per state and the trials that are not pending");
  status->add_option("DIR", dir, "sweep directory")->required();
  status->add_option("--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  status->add_option("--limit", limit, "rows in the trial table (0: all)");

  auto* points = app.add_subcommand("points", "Every point's values");
  points->add_option("DIR", dir, "sweep directory")->required();
  points->add_option("--format", format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*validate) return CmdValidate(spec);
  if (*init) return CmdInit(spec, dir);
  if (*status) return CmdStatus(dir, format, limit);
  if (*points) return CmdPoints(dir, format);
  return 2;
}
