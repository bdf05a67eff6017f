// File: tools/cosched_up/edge_report.h
// What `cosched up --demo` says about a job's edge tier: which members trained in which tier,
// the outer rounds, and the bytes that crossed vehicle links per sample trained, next to what
// one synchronous allreduce of the same members would have moved over them.
#pragma once

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "proto/scheduler.pb.h"

namespace cosched::tools {

// Who trained in which tier over a run, from the demo's progress polls (the job's members at
// its end are often none: they leave as it finishes).
struct TierSightings {
  std::set<std::string> synchronous;
  std::set<std::string> edge;
  int most_members = 0;       // the largest membership seen at once
  int most_edge_members = 0;  // the most edge-tier members seen at once

  void Observe(const cosched::v1::JobStatus& job);
};

struct EdgeReport {
  int64_t outer_rounds = 0;
  double vehicle_bytes_per_sample = 0;  // measured, both ways
  // Estimated for a ring allreduce of the largest membership seen, the most edge members
  // among it (0 when fewer than two members were ever seen together).
  double synchronous_bytes_per_sample = 0;
  std::string text;  // for people, several lines
};

// `job_yaml`: the job as submitted (for its model's size and batch). A job without an edge
// tier gives a report of zeros that says so.
absl::StatusOr<EdgeReport> ReportEdgeTier(const cosched::v1::JobStatus& job,
                                          const std::string& job_yaml, const TierSightings& seen);

}  // namespace cosched::tools
