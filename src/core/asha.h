// Successive halving (SHA) and its asynchronous form ASHA (Li et al., MLSys
// 2020, Algorithm 2) as pure decisions over published rung results (#14;
// docs/derived-work.md §1.6). No filesystem here: the caller lists the score
// index of the rungs involved, calls these, and makes the promotion an
// exclusive create.
//
// Terms. Rung k trains a configuration to budgets[k] epochs; rung 0 takes every
// configuration, rung k+1 only those promoted from rung k. n_k is the number of
// results published at rung k, failed ones included. η ("reduction", >= 2) is
// the promotion ratio.
//
// The rules as implemented:
//  * Ranking (TopConfigs): better value first (higher when maximizing, lower
//    when minimizing); equal values: the lower config id first. A result that
//    failed (training failed or diverged) or whose value is NaN or ±inf ranks
//    below every finite one and is never returned, so never promoted. The
//    ranking is a total order on (failed, value, config), so it does not depend
//    on the order results arrived in.
//  * SHA (synchronous): once rung k is complete, its top ⌊n_k/η⌋ go on to
//    rung k+1. Failed ones take part in n_k but not in the top, so fewer may go
//    on; n_k < η promotes nobody.
//  * ASHA (asynchronous, a free worker's decision): for k from the
//    second-highest rung down to 0, the candidates are rung k's top ⌊n_k/η⌋;
//    the first candidate not yet promoted from rung k is promoted to rung k+1.
//    If no rung has one, the worker starts a new configuration at rung 0. The
//    top rung never promotes. Candidates are recomputed from the current
//    results at every decision, so a configuration promoted earlier may have
//    left the top since (the paper's rule: promotions are never undone).
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

namespace claimsweep {

// One configuration's published result at one rung.
struct RungResult {
  uint64_t config = 0;  // the configuration's id (its point index)
  double value = 0;     // the metric as the task reported it
  bool failed = false;  // training failed or diverged: the worst, never promoted
};

// True when `r` ranks as failed: r.failed, or its value is NaN or ±inf.
bool RanksAsFailed(const RungResult& r);

// The ids of the k best results, best first, at most k of them and no failed
// ones (RanksAsFailed), so fewer than k when fewer than k are usable. Best is
// the higher value when `maximize`, the lower otherwise; equal values (0.0 and
// -0.0 are equal) go to the lower config id first. The answer depends only on
// the multiset of results, not on their order.
// REQUIRES: each config appears at most once in `results`.
std::vector<uint64_t> TopConfigs(std::vector<RungResult> results, size_t k, bool maximize);

// Synchronous SHA: the configurations that go on from a complete rung, i.e.
// TopConfigs(rung, ⌊rung.size() / reduction⌋, maximize), best first. n_k =
// rung.size() counts failed results too. Empty when rung.size() < reduction,
// and (defensively; the spec refuses it) when reduction < 2. Whether the rung is
// complete is the caller's decision.
std::vector<uint64_t> ShaPromotions(const std::vector<RungResult>& rung, uint32_t reduction,
                                    bool maximize);

// A free worker's next job under ASHA.
struct AshaDecision {
  enum Kind { kPromote, kNew };
  Kind kind = kNew;
  // kPromote: the rung `config` is promoted to (k+1 for a promotion from rung
  // k). kNew: 0, the bottom rung.
  uint32_t rung = 0;
  // kPromote: the configuration to promote. kNew: 0 (unused: the caller claims
  // the next configuration of the points queue).
  uint64_t config = 0;
};

// ASHA's Algorithm 2. results_per_rung[k] holds rung k's published results;
// its size is the number of rungs, the last being the top rung, which never
// promotes (empty rungs are fine; an empty vector means kNew).
// promoted_from_rung[k] holds the configurations already promoted from rung k
// to k+1, claimed or finished; entries missing at the end count as empty sets.
// For k from results_per_rung.size() - 2 down to 0: the candidates are
// TopConfigs(results_per_rung[k], ⌊n_k / reduction⌋, maximize); the first one
// not in promoted_from_rung[k] gives {kPromote, k+1, it}. If no rung gives one:
// {kNew, 0, 0}. n_k < reduction gives rung k no candidates; reduction < 2
// (refused by the spec) always gives kNew.
AshaDecision AshaDecide(const std::vector<std::vector<RungResult>>& results_per_rung,
                        const std::vector<std::set<uint64_t>>& promoted_from_rung,
                        uint32_t reduction, bool maximize);

// The compute used, as a fraction of training every configuration to the top
// budget:
//
//   sum_k configs_reaching_rung[k] * (budgets[k] - budgets[k-1])   (budgets[-1] = 0)
//   ----------------------------------------------------------------
//           configs_reaching_rung[0] * budgets.back()
//
// budgets[k] is rung k's epochs; configs_reaching_rung[k] is how many
// configurations trained rung k's budget. A promoted configuration resumes from
// its checkpoint, so at rung k it trains only budgets[k] - budgets[k-1] new
// epochs. Every configuration starts at rung 0, so configs_reaching_rung[0] is
// the number of configurations. Example: budgets 1,3,9 and 27 -> 9 -> 3 give
// (27*1 + 9*2 + 3*6) / (27*9) = 63/243. Sums are exact integers, divided once.
// REQUIRES: budgets strictly increasing and > 0. Rungs missing at the end of
// configs_reaching_rung count as reached by none; entries past budgets.size()
// are ignored. Returns 0 when there are no rungs or no configurations.
double ComputeFraction(const std::vector<int>& budgets,
                       const std::vector<uint64_t>& configs_reaching_rung);

}  // namespace claimsweep
