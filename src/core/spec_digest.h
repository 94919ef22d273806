// The frozen spec's digest: `sweep init` records the SHA-256 of the exact
// bytes of DIR/sweep.textproto in DIR/sweep.sha256, and every reader of a
// sweep (ReadFrozenSpec) checks it, so an edited spec, whose points would no
// longer be the ones already run, is refused instead of silently used.
#pragma once

#include <string>

#include "core/env.h"
#include "core/layout.h"
#include "core/status.h"

namespace claimsweep {

// The digest file's one line: "sha256 <64 hex digits>  sweep.textproto\n"
// (the format `sha256sum -c` reads, after the algorithm name).
std::string SpecDigestLine(const std::string& frozen_text);

// Publishes a new sweep's frozen spec: the digest first, then the spec (the
// spec's presence is what makes the directory a sweep, so a crash between
// the two leaves no sweep with a missing digest).
Status WriteFrozenSpec(Env* env, const SweepLayout& layout, const std::string& frozen_text);

// Checks `spec_text` (the bytes read from layout.spec_path()) against
// layout.spec_digest_path(). *present: whether the digest file exists (OK
// and false when it does not; the caller decides whether it must). Corruption
// when the spec was changed, naming both files and what to do instead, or
// when the digest file is not a digest line.
Status CheckSpecDigest(Env* env, const SweepLayout& layout, const std::string& spec_text,
                       bool* present);

}  // namespace claimsweep
