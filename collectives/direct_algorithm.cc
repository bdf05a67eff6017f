// File: collectives/direct_algorithm.cc
#include "collectives/direct_algorithm.h"

#include "absl/strings/str_cat.h"
#include "collectives/direct_allreduce.h"
#include "collectives/direct_ring.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

bool IsPowerOfTwo(int n) { return n > 0 && (n & (n - 1)) == 0; }

// Recursive halving and doubling among a power of two parties (4 or more): the innermost
// pair (d = 1) first, each level wrapping the one inside it. Every party connects the levels
// in the same order, and a level's pairs are disjoint, so nobody waits on a cycle.
absl::StatusOr<std::unique_ptr<LinkedAllreduce>> ConnectHalvingDoubling(
    KeyValueStore& store, const std::string& key_prefix, int party, int parties,
    const std::string& listen_address, absl::Duration timeout, std::stop_token stop) {
  std::unique_ptr<LinkedAllreduce> inner;
  for (int d = 1; d < parties; d *= 2) {
    // Side 0 (the party whose bit d is clear) listens, and owns the first half at this level.
    const int side = (party & d) != 0 ? 1 : 0;
    ASSIGN_OR_RETURN(std::unique_ptr<DirectLink> link,
                     DirectLink::Connect(store, absl::StrCat(key_prefix, "hd/", d, "/", party & ~d),
                                         side, listen_address, timeout, stop));
    inner = std::make_unique<DirectAllreduce>(std::move(link), std::move(inner));
  }
  return inner;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LinkedAllreduce>> ConnectDirectAlgorithm(
    KeyValueStore& store, const std::string& key_prefix, int party, int parties,
    const std::string& listen_address, absl::Duration timeout, std::stop_token stop) {
  if (parties == 2) {
    ASSIGN_OR_RETURN(std::unique_ptr<DirectLink> link,
                     DirectLink::Connect(store, absl::StrCat(key_prefix, "pair"), party,
                                         listen_address, timeout, stop));
    return std::make_unique<DirectAllreduce>(std::move(link));
  }
  if (IsPowerOfTwo(parties)) {
    return ConnectHalvingDoubling(store, key_prefix, party, parties, listen_address, timeout, stop);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<DirectRing> ring,
                   DirectRing::Connect(store, absl::StrCat(key_prefix, "ring/"), party, parties,
                                       listen_address, timeout, stop));
  return ring;
}

}  // namespace cosched::collectives
