// File: sim/control_plane/sim_group.cc
#include "sim/control_plane/sim_group.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/control_plane/sim_world.h"

namespace cosched::sim {
namespace {

// Within a host's or a data center's network: a collective's last arrival to its result.
constexpr absl::Duration kCollectiveLatency = absl::Milliseconds(2);
// How long a rank takes to notice a failed collective when it arrives after the failure.
constexpr absl::Duration kNoticeLateArrival = absl::Milliseconds(1);

}  // namespace

void SimGroup::Arrive(int rank, int64_t op, Contribution contribution, CollectiveDone done) {
  if (failed_.has_value()) {
    // A rank that arrives after the departure notices no sooner than the others (a silent
    // peer still takes the collective timeout).
    const absl::Duration wait = std::max(kNoticeLateArrival, noticed_at_ - world_->Now());
    world_->After(wait, "collective fails",
                  [done, status = *failed_] { done(status, Contribution()); });
    return;
  }
  std::map<int, Waiter>& arrived = waiting_[op];
  arrived[rank] = Waiter{std::move(contribution), std::move(done)};
  if (static_cast<int>(arrived.size()) == world_size_) Complete(op);
}

void SimGroup::Complete(int64_t op) {
  std::map<int, Waiter> arrived = std::move(waiting_[op]);
  waiting_.erase(op);
  // An allreduce combines every rank's numbers: the newest pending generation (Trainer::Step
  // shares it in the gradient allreduce) and each rank's step (Trainer::NewestStateRank). A
  // broadcast hands everyone the one state that was put in.
  Contribution result;
  for (const auto& [rank, waiter] : arrived) {
    const Contribution& in = waiter.contribution;
    result.pending_generation = std::max(result.pending_generation, in.pending_generation);
    result.steps.push_back(in.step);
    if (!in.state.empty()) result.state = in.state;
  }
  for (auto& [rank, waiter] : arrived) {
    world_->After(kCollectiveLatency, "collective done",
                  [done = std::move(waiter.done), result] { done(absl::OkStatus(), result); });
  }
}

void SimGroup::Leave(int rank, absl::Duration noticed_after, const std::string& why) {
  // The leaver's own wait fails too (a rank cut off notices at its timeout); the callbacks of
  // a dead process are ignored by its worker.
  if (failed_.has_value()) return;
  failed_ = absl::UnavailableError(absl::StrCat(prefix_, ": peer ", rank, " left (", why, ")"));
  noticed_at_ = world_->Now() + noticed_after;
  FailWaiters(noticed_after);
}

void SimGroup::FailWaiters(absl::Duration after) {
  for (auto& [op, arrived] : waiting_) {
    for (auto& [rank, waiter] : arrived) {
      world_->After(after, "collective fails", [done = std::move(waiter.done), status = *failed_] {
        done(status, Contribution());
      });
    }
  }
  waiting_.clear();
}

}  // namespace cosched::sim
