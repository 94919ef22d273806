// Validation of a spec's parameters (grid params, branches, zips, random
// ones) and of what names them: the command's placeholders and, for a train
// task, every point's config. Each problem goes to `err` as (where, what),
// where being "path:line:col" (core/spec_locator.h). Used by ParseSpec.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/spec_locator.h"
#include "spec.pb.h"

namespace claimsweep {

using SpecError = std::function<void(const std::string& where, const std::string& what)>;

// Names unique within every point's scope (the shared part's plus its
// branch's), values well formed, zips of equal lengths, no empty branch.
// Returns every name in first-appearance order (as PointSpace::names()).
std::vector<std::string> ValidateParams(const SweepSpec& spec, const Locator& loc,
                                        const SpecError& err);

// Every placeholder in the command's argv and env names a built-in or a
// parameter every point has (one some branch lacks is refused at the
// placeholder, naming the branch).
void ValidateCommand(const SweepSpec& spec, const Locator& loc,
                     const std::vector<std::string>& names, const SpecError& err);

// What a command may name, and how its problems are told.
struct CommandScope {
  Locator::Steps at;  // where the CommandTask is written, e.g. {{"command", 0}}
  std::string label;  // how messages name it: "command", "stage 'eval' command"
  // Parameters it may name (each must be in every point: one some branch
  // lacks is refused naming the branch), and built-in placeholders.
  std::vector<std::string> params, builtins;
  // The rest of "placeholder {u} ..." for a name it does not offer.
  std::function<std::string(const std::string& u)> unknown;
};

// ValidateCommand for any command: no argv, a malformed placeholder, one the
// scope does not offer, an env key that is not a variable name.
void ValidateCommandTask(const SweepSpec& spec, const Locator& loc, const CommandTask& c,
                         const CommandScope& scope, const SpecError& err);

// Every value parameter `name` can take (grid values, choices, the ends of a
// random range), with where each is written; `some_point_lacks`: whether a
// point (a branch, or every point) has no such parameter.
void ParamValues(const SweepSpec& spec, const Locator& loc, const std::string& name,
                 std::vector<std::pair<std::string, std::string>>* values, bool* some_point_lacks);

// A train field that some branch sets and another lacks would silently take
// its default there: refused unless the base `train {}` sets it, or it cannot
// matter for that branch (depth, where none of the branch's models takes one).
void ValidateTrainCoverage(const SweepSpec& spec, const Locator& loc,
                           const std::vector<std::string>& names, const SpecError& err);

// Every point's train config as the trainer will build it: each value of its
// field's type, and every combination of representative values valid, within
// each branch (O(combinations), up to a bound: see the README).
void ValidateTrain(const SweepSpec& spec, const Locator& loc, const SpecError& err);

}  // namespace claimsweep
