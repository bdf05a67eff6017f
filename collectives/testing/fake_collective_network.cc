// File: collectives/testing/fake_collective_network.cc
#include "collectives/testing/fake_collective_network.h"

#include <algorithm>
#include <cstring>
#include <stop_token>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/rendezvous_keys.h"
#include "common/status_macros.h"

namespace cosched::collectives {

// One operation of a group, identified by its sequence number (every rank runs the same
// sequence of operations, as with gloo's tags).
struct FakeCollectiveNetwork::Operation {
  std::string kind;  // "allreduce", "broadcast", "allgather", "barrier"
  size_t bytes = 0;  // per rank
  int root = -1;
  std::vector<std::vector<char>> contributions;  // by rank
  int entered = 0;
  int picked_up = 0;
  bool complete = false;
  absl::Time ready_at;
  std::vector<char> result;
};

struct FakeCollectiveNetwork::GroupState {
  int world_size = 0;
  std::vector<bool> arrived;
  int arrivals = 0;
  int holders = 0;       // Group objects and rendezvous waiters using this state
  int failed_rank = -1;  // whose failure ended the group (-1: healthy)
  absl::Status failure;  // as that rank saw it
  std::map<int64_t, Operation> operations;

  bool failed() const { return failed_rank >= 0; }
  // The failure as `rank` sees it: its own error, or its peer's as a lost connection.
  absl::Status FailureFor(int rank) const {
    if (rank == failed_rank) return failure;
    return absl::UnavailableError(
        absl::StrCat("peer rank ", failed_rank, " failed: ", failure.message()));
  }
  void Fail(int rank, absl::Status status) {
    if (failed()) return;
    failed_rank = rank;
    failure = std::move(status);
  }
};

class FakeCollectiveNetwork::Group final : public CollectiveGroup {
 public:
  Group(FakeCollectiveNetwork* network, std::shared_ptr<GroupState> state,
        const GroupOptions& options)
      : CollectiveGroup(GroupIdentity{options.job_id, options.generation, options.rank,
                                      options.world_size, options.timeout}),
        network_(network),
        state_(std::move(state)) {}

  ~Group() override {
    {
      MutexLock lock(&network_->mu_);
      state_->Fail(rank(), absl::AbortedError("the group was destroyed"));
    }
    network_->Release(identity(), state_);
  }

  absl::Span<float> StagingBuffer(size_t count) override {
    MutexLock lock(&staging_mu_);
    std::unique_ptr<std::vector<float>>& buffer = staging_[count];
    if (buffer == nullptr) buffer = std::make_unique<std::vector<float>>(count);
    return absl::MakeSpan(*buffer);
  }

  void Abort(absl::string_view reason) override {
    MutexLock lock(&network_->mu_);
    if (own_failure_.ok()) {
      own_failure_ = absl::AbortedError(absl::StrCat("group aborted: ", reason));
    }
    state_->Fail(rank(), own_failure_);
    network_->changed_.SignalAll();
  }

  absl::Status health() const override {
    MutexLock lock(&network_->mu_);
    if (!own_failure_.ok()) return own_failure_;
    return state_->failed() ? state_->FailureFor(rank()) : absl::OkStatus();
  }

 protected:
  absl::Status DoAllreduce(absl::Span<float> data, AllreduceAlgorithm /*algorithm*/) override {
    std::vector<char> result;
    RETURN_IF_ERROR(Run("allreduce", AsBytes(data), -1, &result));
    std::memcpy(data.data(), result.data(), result.size());
    return absl::OkStatus();
  }
  absl::Status DoBroadcast(absl::Span<char> data, int root) override {
    std::vector<char> result;
    RETURN_IF_ERROR(Run("broadcast", std::vector<char>(data.begin(), data.end()), root, &result));
    std::memcpy(data.data(), result.data(), result.size());
    return absl::OkStatus();
  }
  absl::Status DoAllgather(absl::Span<const float> input, absl::Span<float> output) override {
    std::vector<char> result;
    RETURN_IF_ERROR(Run("allgather", AsBytes(input), -1, &result));
    std::memcpy(output.data(), result.data(), result.size());
    return absl::OkStatus();
  }
  absl::Status DoBarrier() override {
    std::vector<char> result;
    return Run("barrier", {}, -1, &result);
  }

 private:
  static std::vector<char> AsBytes(absl::Span<const float> data) {
    const char* bytes = reinterpret_cast<const char*>(data.data());
    return std::vector<char>(bytes, bytes + data.size() * sizeof(float));
  }

  // The result once every rank entered, as every rank computes it.
  static void Complete(Operation& op, int world_size) {
    if (op.kind == "allreduce") {
      const size_t n = op.bytes / sizeof(float);
      std::vector<float> sum(n, 0.0f);
      for (int r = 0; r < world_size; ++r) {
        const float* values = reinterpret_cast<const float*>(op.contributions[r].data());
        for (size_t i = 0; i < n; ++i) sum[i] += values[i];
      }
      op.result = AsBytes(sum);
    } else if (op.kind == "broadcast") {
      op.result = op.contributions[op.root];
    } else if (op.kind == "allgather") {
      for (int r = 0; r < world_size; ++r) {
        op.result.insert(op.result.end(), op.contributions[r].begin(), op.contributions[r].end());
      }
    }
    op.complete = true;
  }

  // Enters operation number next_op_ with this rank's bytes and waits for the result.
  absl::Status Run(const std::string& kind, std::vector<char> mine, int root,
                   std::vector<char>* result) {
    const std::string where = absl::StrCat(kind, " in ", GenerationPrefix(job_id(), generation()),
                                           " (rank ", rank(), "/", world_size(), "): ");
    MutexLock lock(&network_->mu_);
    if (!own_failure_.ok()) return Prefixed(where, own_failure_);
    GroupState& state = *state_;
    if (state.failed()) return Fail(where, state.FailureFor(rank()));
    const int64_t seq = next_op_++;
    Operation& op = state.operations[seq];
    if (op.entered == 0) {
      op.kind = kind;
      op.bytes = mine.size();
      op.root = root;
      op.contributions.resize(world_size());
    } else if (op.kind != kind || op.bytes != mine.size() || op.root != root) {
      const absl::Status mismatch = absl::InternalError(
          absl::StrCat("ranks disagree on operation ", seq, ": this rank runs ", kind, " of ",
                       mine.size(), " bytes (root ", root, "), a peer ", op.kind, " of ", op.bytes,
                       " bytes (root ", op.root, ")"));
      state.Fail(rank(), mismatch);
      network_->changed_.SignalAll();
      return Fail(where, mismatch);
    }
    op.contributions[rank()] = std::move(mine);
    if (++op.entered == world_size()) {
      Complete(op, world_size());
      const absl::Duration latency =
          network_->options_.latency ? network_->options_.latency(op.bytes) : absl::ZeroDuration();
      op.ready_at = network_->clock_->Now() + latency;
      network_->changed_.SignalAll();
    }
    const absl::Time deadline = network_->clock_->Now() + timeout();
    while (true) {
      // An operation every rank entered completes even if a peer leaves right after (its
      // bytes were on the wire): the check for completion comes before the one for failure.
      const absl::Time now = network_->clock_->Now();
      if (op.complete && now >= op.ready_at) break;
      if (state.failed()) return Fail(where, state.FailureFor(rank()));
      if (now >= deadline) {
        const absl::Status timed_out = absl::DeadlineExceededError(
            absl::StrCat("timed out after ", absl::FormatDuration(timeout()), " (", op.entered,
                         " of ", world_size(), " ranks arrived)"));
        state.Fail(rank(), timed_out);
        network_->changed_.SignalAll();
        return Fail(where, timed_out);
      }
      const bool was_complete = op.complete;
      const absl::Time wake = was_complete ? std::min(op.ready_at, deadline) : deadline;
      network_->clock_->Await(
          &network_->mu_, &network_->changed_,
          [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return state.failed() || op.complete != was_complete;
          },
          wake);
    }
    *result = op.result;
    if (++op.picked_up == world_size()) state.operations.erase(seq);
    return absl::OkStatus();
  }

  static absl::Status Prefixed(const std::string& where, const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(where, status.message()));
  }
  // Records `status` as this rank's sticky failure and returns it with `where`.
  absl::Status Fail(const std::string& where, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(network_->mu_) {
    if (own_failure_.ok()) own_failure_ = status;
    return Prefixed(where, status);
  }

  FakeCollectiveNetwork* const network_;
  const std::shared_ptr<GroupState> state_;
  int64_t next_op_ ABSL_GUARDED_BY(network_->mu_) = 0;
  absl::Status own_failure_ ABSL_GUARDED_BY(network_->mu_);
  Mutex staging_mu_;
  std::map<size_t, std::unique_ptr<std::vector<float>>> staging_ ABSL_GUARDED_BY(staging_mu_);
};

FakeCollectiveNetwork::FakeCollectiveNetwork(const Clock* clock, Options options)
    : clock_(clock), options_(std::move(options)) {}

FakeCollectiveNetwork::~FakeCollectiveNetwork() = default;

int FakeCollectiveNetwork::live_groups() const {
  MutexLock lock(&mu_);
  return static_cast<int>(groups_.size());
}

void FakeCollectiveNetwork::Release(const GroupIdentity& identity,
                                    const std::shared_ptr<GroupState>& state) {
  MutexLock lock(&mu_);
  changed_.SignalAll();
  if (--state->holders > 0) return;
  const auto it = groups_.find({identity.job_id, identity.generation});
  if (it != groups_.end() && it->second == state) groups_.erase(it);
}

absl::Status FakeCollectiveNetwork::AwaitFormation(GroupState& state, const GroupOptions& options) {
  const absl::Time deadline = clock_->Now() + options.timeout;
  absl::Status formed;
  while (!state.failed() && state.arrivals < state.world_size) {
    if (options.stop.stop_requested()) {
      formed = absl::CancelledError("membership moved on (superseded)");
      break;
    }
    if (clock_->Now() >= deadline) {
      std::vector<int> missing;
      for (int r = 0; r < state.world_size; ++r) {
        if (!state.arrived[r]) missing.push_back(r);
      }
      formed = absl::DeadlineExceededError(absl::StrCat("ranks ", absl::StrJoin(missing, ","),
                                                        " still missing after ",
                                                        absl::FormatDuration(options.timeout)));
      break;
    }
    clock_->Await(
        &mu_, &changed_,
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return state.failed() || state.arrivals == state.world_size ||
                 options.stop.stop_requested();
        },
        deadline);
  }
  if (formed.ok() && state.failed()) formed = state.FailureFor(options.rank);
  if (!formed.ok()) {
    // This rank gives up: peers that formed with it, or still wait for it, fail now.
    state.Fail(options.rank, formed);
    changed_.SignalAll();
  }
  return formed;
}

absl::StatusOr<std::unique_ptr<CollectiveGroup>> FakeCollectiveNetwork::CreateGroup(
    const GroupOptions& options) {
  if (absl::Status valid = ValidateGroupOptions(options, StoreUse::kNotUsed); !valid.ok()) {
    return valid;
  }
  const GroupIdentity identity{options.job_id, options.generation, options.rank, options.world_size,
                               options.timeout};
  // Registered before mu_ is taken: a stop already requested runs the callback at once.
  std::stop_callback wake_on_stop(options.stop, [this] {
    MutexLock lock(&mu_);
    changed_.SignalAll();
  });
  std::shared_ptr<GroupState> state;
  absl::Status formed;
  {
    MutexLock lock(&mu_);
    std::shared_ptr<GroupState>& slot = groups_[{options.job_id, options.generation}];
    if (slot == nullptr) {
      slot = std::make_shared<GroupState>();
      slot->world_size = options.world_size;
      slot->arrived.assign(options.world_size, false);
    }
    state = slot;
    if (state->world_size != options.world_size) {
      return FormError(options, absl::InvalidArgumentError(absl::StrCat(
                                    "a peer formed this group with ", state->world_size,
                                    " ranks, this rank with ", options.world_size)));
    }
    if (state->arrived[options.rank]) {
      return FormError(options, absl::AlreadyExistsError("this rank already joined the group"));
    }
    state->arrived[options.rank] = true;
    ++state->arrivals;
    ++state->holders;
    changed_.SignalAll();
    formed = AwaitFormation(*state, options);
  }
  if (!formed.ok()) {
    Release(identity, state);
    return FormError(options, formed);
  }
  return std::unique_ptr<CollectiveGroup>(new Group(this, std::move(state), options));
}

}  // namespace cosched::collectives
