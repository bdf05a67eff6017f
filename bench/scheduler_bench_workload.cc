// File: bench/scheduler_bench_workload.cc
#include "bench/scheduler_bench_workload.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "scheduler/core/vehicle_eligibility.h"

namespace cosched::bench {
namespace {

using scheduler::JobSpec;
using scheduler::KindPreference;
using scheduler::NodeKind;
using scheduler::VehicleSignals;

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr absl::Duration kRegistrationSpacing = absl::Milliseconds(1);
constexpr absl::Duration kEventStep = absl::Microseconds(1);
constexpr int kMaxReturnLag = 16;  // departures until a departed node comes back

// rng() % n: the bias is far below anything the benchmark could notice, and unlike the
// std:: distributions it is the same on every standard library.
uint64_t Below(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

BenchNode MakeNode(int index, std::mt19937_64& rng, absl::Time registered) {
  BenchNode node;
  node.info.id = BenchNodeId(index);
  node.registered = registered;
  if (Below(rng, 100) < 35) {
    node.info.kind = NodeKind::kDatacenter;
    node.info.cpus = 16 << Below(rng, 3);
    node.info.memory_bytes = (64 << Below(rng, 3)) * kGiB;
    node.info.link_mbps = Below(rng, 2) == 0 ? 10000 : 25000;
    node.info.zone = absl::StrCat("dc", Below(rng, 2), "-rack", Below(rng, 32));
    return node;
  }
  node.info.kind = NodeKind::kVehicle;
  node.info.cpus = 4 << Below(rng, 2);
  node.info.memory_bytes = (8 << Below(rng, 2)) * kGiB;
  node.info.link_mbps = static_cast<double>(20 + Below(rng, 381));
  node.info.zone = absl::StrCat("depot-", Below(rng, 64));
  VehicleSignals& s = node.signals;
  s = VehicleSignals{true, true, 0.5 + static_cast<double>(Below(rng, 51)) / 100, true, true};
  switch (Below(rng, 20)) {  // 3 in 20 cannot train when they register
    case 0:
      s.parked = false;  // driving
      s.plugged_in = false;
      break;
    case 1:
      s.battery_fraction = 0.2;
      break;
    case 2:
      s.unmetered_link = false;
      break;
    default:
      break;
  }
  node.eligible = scheduler::IneligibleReason(s, scheduler::EligibilityPolicy()).empty();
  return node;
}

JobSpec MakeJob(int index, std::mt19937_64& rng) {
  JobSpec spec;
  spec.name = absl::StrCat("bench-", index);
  const uint64_t size = Below(rng, 100);
  if (size < 80) {  // most jobs are small
    spec.max_workers = 1 + static_cast<int>(Below(rng, 8));
    spec.min_workers = 1 + static_cast<int>(Below(rng, spec.max_workers));
  } else {
    spec.max_workers =
        size < 95 ? 9 + static_cast<int>(Below(rng, 24)) : 33 + static_cast<int>(Below(rng, 96));
    const int half = spec.max_workers / 2;
    spec.min_workers = half + static_cast<int>(Below(rng, spec.max_workers - half + 1));
  }
  const uint64_t priority = Below(rng, 100);
  spec.priority = priority < 60   ? 0
                  : priority < 85 ? 1 + static_cast<int>(Below(rng, 3))
                                  : 4 + static_cast<int>(Below(rng, 6));
  const uint64_t kind = Below(rng, 100);
  spec.kind = kind < 55   ? KindPreference::kAny
              : kind < 85 ? KindPreference::kDatacenter
                          : KindPreference::kVehicle;
  static constexpr int kCpus[] = {1, 1, 2, 2, 4, 8};
  spec.cpus_per_worker = kCpus[Below(rng, 6)];
  spec.memory_per_worker = static_cast<int64_t>(1 + Below(rng, 8)) * kGiB;
  spec.min_link_mbps = Below(rng, 5) == 0 ? 100 : 0;
  spec.max_failures = 1000000;  // lost data-center nodes count as crashes; keep every job
  spec.job_yaml = absl::StrFormat(
      "name: %s\nmodel: {kind: mlp, hidden: [256, 128]}\ndata: {dataset: fashion-mnist, "
      "shard_samples: 512}\ntrain: {batch: 64, lr: 0.05, epochs: 3}\nworkers: {min: %d, max: "
      "%d}\npriority: %d\n",
      spec.name, spec.min_workers, spec.max_workers, spec.priority);
  return spec;
}

// The churn: departures chosen from the state the events themselves imply (which nodes are
// connected, how old their last heartbeat is, which vehicles are eligible), never from
// placement, so it is the same for every scheduler that runs it.
class ChurnGenerator {
 public:
  ChurnGenerator(Workload* workload, std::mt19937_64* rng, absl::Time now)
      : w_(*workload), rng_(*rng), now_(now) {
    const size_t n = w_.nodes.size();
    last_.resize(n);
    connected_.assign(n, true);
    away_.assign(n, false);
    eligible_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      last_[i] = w_.nodes[i].registered;
      eligible_[i] = w_.nodes[i].eligible;
      by_age_.emplace(last_[i], static_cast<int>(i));
      if (w_.nodes[i].info.kind == NodeKind::kVehicle) vehicles_.push_back(static_cast<int>(i));
    }
  }

  absl::Status Run(int departures) {
    for (int d = 0; d < departures; ++d) {
      EmitReturnsDue(d);
      bool departed = false;
      if (Below(rng_, 2) == 0) {
        ASSIGN_OR_RETURN(departed, Lose(d));
        if (!departed) departed = Unplug(d);
      } else if (!(departed = Unplug(d))) {
        ASSIGN_OR_RETURN(departed, Lose(d));
      }
    }
    EmitReturnsDue(departures + kMaxReturnLag + 1);
    return absl::OkStatus();
  }

 private:
  void Touch(int node) {
    by_age_.erase({last_[node], node});
    last_[node] = now_;
    by_age_.emplace(now_, node);
  }

  void Emit(BenchEvent::Kind kind, int node) {
    w_.events.push_back(BenchEvent{kind, -1, node, now_});
  }

  void Schedule(int departure, BenchEvent::Kind kind, int node) {
    returns_.emplace(departure + 1 + static_cast<int>(Below(rng_, kMaxReturnLag)),
                     std::make_pair(kind, node));
  }

  void EmitReturnsDue(int departure) {
    while (!returns_.empty() && returns_.begin()->first <= departure) {
      const auto [kind, node] = returns_.begin()->second;
      returns_.erase(returns_.begin());
      now_ += kEventStep;
      away_[node] = false;
      if (kind == BenchEvent::Kind::kRegister) {
        connected_[node] = true;
        last_[node] = now_;
        by_age_.emplace(now_, node);
      } else {
        eligible_[node] = true;
        Touch(node);
      }
      Emit(kind, node);
    }
  }

  // An eligible vehicle that is here unplugs; false if none was found.
  bool Unplug(int departure) {
    for (int attempt = 0; attempt < 64 && !vehicles_.empty(); ++attempt) {
      const int node = vehicles_[Below(rng_, vehicles_.size())];
      if (!connected_[node] || away_[node] || !eligible_[node]) continue;
      now_ += kEventStep;
      eligible_[node] = false;
      away_[node] = true;
      Touch(node);
      Emit(BenchEvent::Kind::kIneligible, node);
      Schedule(departure, BenchEvent::Kind::kEligible, node);
      return true;
    }
    return false;
  }

  // The node silent longest is lost at a tick; exactly it, or the workload is wrong. False
  // when there is none, or it is an unplugged vehicle waiting to come back.
  absl::StatusOr<bool> Lose(int departure) {
    if (by_age_.empty()) return false;
    const auto [oldest_time, node] = *by_age_.begin();
    if (away_[node]) return false;
    now_ = std::max(now_ + kEventStep, oldest_time + w_.heartbeat_ttl + kEventStep);
    by_age_.erase(by_age_.begin());
    if (!by_age_.empty() && now_ - by_age_.begin()->first > w_.heartbeat_ttl) {
      return absl::InternalError(absl::StrCat("workload: the tick at event ", w_.events.size(),
                                              " would lose more than ", w_.nodes[node].info.id,
                                              " (a bug in the generator)"));
    }
    connected_[node] = false;
    away_[node] = true;
    Emit(BenchEvent::Kind::kTickLoss, node);
    Schedule(departure, BenchEvent::Kind::kRegister, node);
    return true;
  }

  Workload& w_;
  std::mt19937_64& rng_;
  absl::Time now_;
  std::vector<absl::Time> last_;
  std::vector<bool> connected_, away_, eligible_;
  std::set<std::pair<absl::Time, int>> by_age_;  // connected nodes, oldest heartbeat first
  std::vector<int> vehicles_;
  std::multimap<int, std::pair<BenchEvent::Kind, int>> returns_;  // by due departure
};

}  // namespace

const char* BenchEventKindName(BenchEvent::Kind kind) {
  switch (kind) {
    case BenchEvent::Kind::kSubmit:
      return "submit";
    case BenchEvent::Kind::kTickLoss:
      return "tick_loss";
    case BenchEvent::Kind::kIneligible:
      return "ineligible";
    case BenchEvent::Kind::kEligible:
      return "eligible";
    case BenchEvent::Kind::kRegister:
      return "register";
  }
  return "?";
}

std::string BenchNodeId(int index) { return absl::StrFormat("n%05d", index); }

absl::StatusOr<Workload> MakeWorkload(const WorkloadOptions& options) {
  if (options.nodes < 1 || options.jobs < 1 || options.departures < 0) {
    return absl::InvalidArgumentError("workload: nodes and jobs must be >= 1, departures >= 0");
  }
  std::mt19937_64 rng(options.seed);
  Workload w;
  w.start = absl::UnixEpoch() + absl::Hours(24 * 365);
  w.heartbeat_ttl = absl::Hours(1);
  w.eligible_signals = VehicleSignals{true, true, 0.9, true, true};
  w.unplugged_signals = VehicleSignals{true, false, 0.9, true, true};
  w.nodes.reserve(options.nodes);
  for (int i = 0; i < options.nodes; ++i) {
    w.nodes.push_back(MakeNode(i, rng, w.start + i * kRegistrationSpacing));
  }
  absl::Time now = w.nodes.back().registered;
  for (int j = 0; j < options.jobs; ++j) {
    w.jobs.push_back(MakeJob(j, rng));
    now += kEventStep;
    w.events.push_back(BenchEvent{BenchEvent::Kind::kSubmit, j, -1, now});
  }
  w.first_churn_event = w.events.size();
  ChurnGenerator churn(&w, &rng, now);
  if (absl::Status s = churn.Run(options.departures); !s.ok()) return s;
  return w;
}

}  // namespace cosched::bench
