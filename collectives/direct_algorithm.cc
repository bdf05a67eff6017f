// File: collectives/direct_algorithm.cc
#include "collectives/direct_algorithm.h"

#include "absl/strings/str_cat.h"
#include "collectives/direct_allreduce.h"
#include "collectives/direct_ring.h"
#include "common/status_macros.h"

namespace cosched::collectives {

absl::StatusOr<std::unique_ptr<LinkedAllreduce>> ConnectDirectAlgorithm(
    KeyValueStore& store, const std::string& key_prefix, int party, int parties,
    const std::string& listen_address, absl::Duration timeout, std::stop_token stop) {
  if (parties == 2) {
    ASSIGN_OR_RETURN(std::unique_ptr<DirectLink> link,
                     DirectLink::Connect(store, absl::StrCat(key_prefix, "pair"), party,
                                         listen_address, timeout, stop));
    return std::make_unique<DirectAllreduce>(std::move(link));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<DirectRing> ring,
                   DirectRing::Connect(store, absl::StrCat(key_prefix, "ring/"), party, parties,
                                       listen_address, timeout, stop));
  return ring;
}

}  // namespace cosched::collectives
