// File: bench/scheduler_bench_reference.cc
#include "bench/scheduler_bench_reference.h"

#include <algorithm>

namespace cosched::bench {

using scheduler::KindPreference;
using scheduler::NodeKind;

int ReferenceScheduler::AddNode(const scheduler::NodeInfo& info, bool eligible, absl::Time now) {
  RefNode node;
  node.kind = info.kind;
  node.cpus = info.cpus;
  node.memory_bytes = info.memory_bytes;
  node.link_mbps = info.link_mbps;
  node.eligible = eligible || info.kind != NodeKind::kVehicle;
  node.last_heartbeat = now;
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size()) - 1;
}

bool ReferenceScheduler::Fits(const RefJob& job, const RefNode& node) const {
  if (!node.available()) return false;
  const scheduler::JobSpec& spec = job.spec;
  if (spec.kind == KindPreference::kDatacenter && node.kind != NodeKind::kDatacenter) return false;
  if (spec.kind == KindPreference::kVehicle && node.kind != NodeKind::kVehicle) return false;
  return node.cpus >= spec.cpus_per_worker && node.memory_bytes >= spec.memory_per_worker &&
         node.link_mbps >= spec.min_link_mbps;
}

std::vector<int> ReferenceScheduler::Place(const RefJob& job, int count, int* feasible) {
  ++counters_.scans;
  std::vector<std::pair<double, int>> scored;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    const RefNode& node = nodes_[i];
    if (!Fits(job, node)) continue;
    const double kind = node.kind == NodeKind::kDatacenter ? 100 : 40;
    scored.emplace_back(2 * kind + 100 * std::min(node.link_mbps / 1000, 1.0), i);
  }
  *feasible = static_cast<int>(scored.size());
  const size_t take = std::min(scored.size(), static_cast<size_t>(std::max(count, 0)));
  std::partial_sort(scored.begin(), scored.begin() + take, scored.end(),
                    [](const auto& a, const auto& b) {
                      if (a.first != b.first) return a.first > b.first;
                      return a.second < b.second;
                    });
  std::vector<int> chosen;
  chosen.reserve(take);
  for (size_t i = 0; i < take; ++i) chosen.push_back(scored[i].second);
  return chosen;
}

int ReferenceScheduler::SubmitJob(const scheduler::JobSpec& spec) {
  RefJob job;
  job.spec = spec;
  jobs_.push_back(std::move(job));
  const int index = static_cast<int>(jobs_.size()) - 1;
  PlaceJob(index, false);
  return index;
}

void ReferenceScheduler::PlaceJob(int index, bool changed) {
  RefJob& job = jobs_[index];
  int feasible = 0;
  if (!job.running) {
    std::vector<int> chosen = Place(job, job.spec.max_workers, &feasible);
    if (feasible >= job.spec.min_workers) {
      job.members = std::move(chosen);
      job.running = true;
      changed = true;
    }
  } else if (const int room = job.spec.max_workers - static_cast<int>(job.members.size());
             room > 0) {
    const std::vector<int> chosen = Place(job, room, &feasible);
    job.members.insert(job.members.end(), chosen.begin(), chosen.end());
    changed = changed || !chosen.empty();
  }
  for (int member : job.members) nodes_[member].job = index;
  if (changed && job.running) Publish(job);
  UpdateWaiting(index);
}

void ReferenceScheduler::Publish(RefJob& job) {
  ++job.generation;
  ++counters_.generations;
  counters_.assignments += static_cast<int64_t>(job.members.size());
}

void ReferenceScheduler::UpdateWaiting(int index) {
  const RefJob& job = jobs_[index];
  if (!job.running || static_cast<int>(job.members.size()) < job.spec.max_workers) {
    waiting_.insert(KeyOf(job, index));
  } else {
    waiting_.erase(KeyOf(job, index));
  }
}

void ReferenceScheduler::Depart(int node) {
  const int index = nodes_[node].job;
  nodes_[node].job = -1;
  if (index < 0) return;
  ++counters_.revocations;
  RefJob& job = jobs_[index];
  job.members.erase(std::find(job.members.begin(), job.members.end(), node));
  if (static_cast<int>(job.members.size()) >= job.spec.min_workers) {
    PlaceJob(index, true);  // regrow where it can; a new generation either way
    return;
  }
  for (int member : job.members) {  // below workers.min: back to pending
    nodes_[member].job = -1;
    ++counters_.revocations;
  }
  job.members.clear();
  job.running = false;
  PlaceJob(index, false);
}

void ReferenceScheduler::Arrive(int node) {
  if (!nodes_[node].available()) return;
  for (const QueueKey& key : waiting_) {
    if (Fits(jobs_[key.second], nodes_[node])) {
      PlaceJob(key.second, false);
      return;
    }
  }
}

void ReferenceScheduler::Tick(absl::Time now) {
  std::vector<int> lost;  // all of them first, so no re-placement picks one that is lost too
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    RefNode& node = nodes_[i];
    if (!node.connected || now - node.last_heartbeat <= ttl_) continue;
    node.connected = false;
    lost.push_back(i);
  }
  for (int i : lost) Depart(i);
}

void ReferenceScheduler::Heartbeat(int node, bool eligible, absl::Time now) {
  RefNode& n = nodes_[node];
  n.last_heartbeat = now;
  if (n.kind != NodeKind::kVehicle) return;
  const bool was = n.eligible;
  n.eligible = eligible;
  if (!eligible) {
    Depart(node);
  } else if (!was) {
    Arrive(node);
  }
}

void ReferenceScheduler::Register(int node, absl::Time now) {
  nodes_[node].connected = true;
  nodes_[node].last_heartbeat = now;
  Arrive(node);
}

}  // namespace cosched::bench
