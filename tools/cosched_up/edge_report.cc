// File: tools/cosched_up/edge_report.cc
#include "tools/cosched_up/edge_report.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/job_config.h"
#include "common/status_macros.h"

namespace cosched::tools {
namespace {

// Fashion-MNIST's images and classes.
constexpr int kInputs = 784;
constexpr int kClasses = 10;

int64_t ParameterCount(const JobConfig& job) {
  const std::vector<int> sizes = job.model.LayerSizes(kInputs, kClasses);
  int64_t count = 0;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) count += int64_t{sizes[i]} * (sizes[i + 1] + 1);
  return count;
}

}  // namespace

void TierSightings::Observe(const cosched::v1::JobStatus& job) {
  // The synchronous group's members come first, then the edge tier's.
  const int group = job.members_size() - job.edge_members_size();
  for (int i = 0; i < job.members_size(); ++i) {
    (i < group ? synchronous : edge).insert(job.members(i));
  }
  most_members = std::max(most_members, job.members_size());
  most_edge_members = std::max(most_edge_members, job.edge_members_size());
}

absl::StatusOr<EdgeReport> ReportEdgeTier(const cosched::v1::JobStatus& job,
                                          const std::string& job_yaml, const TierSightings& seen) {
  ASSIGN_OR_RETURN(const JobConfig config, ParseJobConfigText(job_yaml, "the demo's job"));
  EdgeReport report;
  if (!config.edge.enabled) {
    report.text = "edge tier: off (the job has no edge section)\n";
    return report;
  }
  const cosched::v1::EdgeTierStatus& edge = job.edge();
  report.outer_rounds = edge.outer_rounds();
  if (edge.samples_trained() > 0) {
    report.vehicle_bytes_per_sample =
        static_cast<double>(edge.vehicle_bytes()) / static_cast<double>(edge.samples_trained());
  }
  // A ring allreduce of P floats among W members sends and receives 2 (W-1)/W * 4P bytes per
  // member and step; a step trains global_batch samples.
  const int64_t world = seen.most_members;
  if (world > 1) {
    const double per_step = 2.0 * 2.0 * static_cast<double>(world - 1) /
                            static_cast<double>(world) * 4.0 *
                            static_cast<double>(ParameterCount(config));
    report.synchronous_bytes_per_sample = static_cast<double>(seen.most_edge_members) * per_step /
                                          static_cast<double>(config.global_batch);
  }
  const std::string saved =
      report.vehicle_bytes_per_sample > 0 && report.synchronous_bytes_per_sample > 0
          ? absl::StrFormat(" (%.0fx more)",
                            report.synchronous_bytes_per_sample / report.vehicle_bytes_per_sample)
          : std::string();
  report.text = absl::StrFormat(
      "edge tier: trained in the synchronous group: %s; in the edge tier: %s\n"
      "  %d outer rounds (%d updated the model); contributions %d accepted, %d late, "
      "%d rejected\n"
      "  over vehicle links: %.0f B per sample trained (%.1f MB for %d samples); in one "
      "synchronous allreduce of %d members with %d vehicles: about %.0f B per sample%s\n",
      seen.synchronous.empty() ? "nobody" : absl::StrJoin(seen.synchronous, ", "),
      seen.edge.empty() ? "nobody" : absl::StrJoin(seen.edge, ", "), edge.outer_rounds(),
      edge.outer_steps(), edge.contributions_accepted(), edge.contributions_late(),
      edge.contributions_rejected(), report.vehicle_bytes_per_sample,
      static_cast<double>(edge.vehicle_bytes()) / 1e6, edge.samples_trained(), world,
      seen.most_edge_members, report.synchronous_bytes_per_sample, saved);
  return report;
}

}  // namespace cosched::tools
