// File: bench/mpi_rank.cc
// RunMpiRank: MPI_Allreduce timed under mpirun (the reference transport of Open MPI).
#include <mpi.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "bench/allreduce_rank.h"
#include "bench/samples.h"
#include "bench/timing.h"
#include "collectives/mpi_bootstrap.h"
#include "common/status_macros.h"
#include "common/units.h"

namespace cosched::bench {
namespace {

absl::Status MpiStatus(absl::string_view call, int code) {
  if (code == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return absl::UnavailableError(absl::StrCat(call, " failed: ", absl::string_view(text, length)));
}

class MpiSync final : public RankSync {
 public:
  explicit MpiSync(const collectives::MpiSession& session) : session_(session) {}
  int rank() const override { return session_.rank(); }
  int world_size() const override { return session_.world_size(); }
  absl::Status Barrier() override { return MpiStatus("MPI_Barrier", MPI_Barrier(MPI_COMM_WORLD)); }
  absl::StatusOr<int64_t> BroadcastFromRank0(int64_t value) override {
    RETURN_IF_ERROR(MpiStatus("MPI_Bcast", MPI_Bcast(&value, 1, MPI_INT64_T, 0, MPI_COMM_WORLD)));
    return value;
  }

 private:
  const collectives::MpiSession& session_;
};

}  // namespace

absl::Status RunMpiRank(const std::vector<std::string>& args, int* argc, char*** argv) {
  // Our parent is mpirun; if it dies, do not linger.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  ASSIGN_OR_RETURN(RankOptions options, ParseRankOptions(args, kMpiRankCommand));
  ASSIGN_OR_RETURN(std::unique_ptr<collectives::MpiSession> session,
                   collectives::MpiSession::Init(argc, argv));
  if (session->world_size() != options.ranks) {
    return absl::InvalidArgumentError(absl::StrCat("mpirun started ", session->world_size(),
                                                   " ranks, --ranks says ", options.ranks));
  }
  if (options.impls.size() != 1) {
    return absl::InvalidArgumentError("--impls: an MPI launch times exactly one impl");
  }
  const std::string& impl = options.impls.front();
  MpiSync sync(*session);
  std::vector<Sample> samples;
  for (const uint64_t size : options.sizes) {
    std::vector<float> buffer(size / sizeof(float));
    AllreduceOp op = [&buffer] {
      return MpiStatus("MPI_Allreduce",
                       MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(buffer.size()),
                                     MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    };
    absl::StatusOr<double> seconds =
        TimeAllreduce(absl::Span<float>(buffer), op, sync, options.timing);
    if (!seconds.ok()) {
      return absl::Status(seconds.status().code(), absl::StrCat(impl, " at ", FormatByteSize(size),
                                                                ": ", seconds.status().message()));
    }
    samples.push_back({impl, size, *seconds});
  }
  return WriteSamples(SamplePath(options.dir, options.launch_name, session->rank()), samples);
}

}  // namespace cosched::bench
