// File: collectives/collective_group.cc
// The one adapter between cosched and gloo: every call into gloo that can throw is made
// through CollectiveGroup::Run, which turns exceptions into a Status.
#include "collectives/collective_group.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collectives/gloo_store_adapter.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "gloo/algorithm.h"
#include "gloo/allgather.h"
#include "gloo/allreduce.h"
#include "gloo/allreduce_bcube.h"
#include "gloo/allreduce_halving_doubling.h"
#include "gloo/allreduce_ring.h"
#include "gloo/allreduce_ring_chunked.h"
#include "gloo/barrier.h"
#include "gloo/broadcast.h"
#include "gloo/common/error.h"
#include "gloo/math.h"
#include "gloo/rendezvous/context.h"
#include "gloo/transport/tcp/device.h"
#include "gloo/transport/tcp/pair.h"

namespace cosched::collectives {
namespace {

// gloo's tcp::Pair keeps its socket, lock and state protected and has no way to wake a
// thread blocked in an operation. Abort needs exactly that, so this accessor reaches the
// three members through pointers-to-member of a derived class (standard C++, no change to
// gloo). Shutting the socket down makes gloo's own event loop see the connection close and
// fail every waiter on that pair with an exception.
struct TcpPairInternals : gloo::transport::tcp::Pair {
  static void ShutdownIfConnected(gloo::transport::tcp::Pair& pair) {
    std::lock_guard<std::mutex> lock(pair.*(&TcpPairInternals::m_));
    if (pair.*(&TcpPairInternals::state_) == TcpPairInternals::CONNECTED) {
      ::shutdown(pair.*(&TcpPairInternals::fd_), SHUT_RDWR);
    }
  }
};

// gloo's CreateDevice dereferences a null pointer when the host does not resolve (seen under
// ASan), so the name is resolved here first and gloo only ever gets a numeric address.
absl::StatusOr<std::string> ResolveListenHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve listen host '", host, "': ", ::gai_strerror(rc)));
  }
  char numeric[NI_MAXHOST];
  const int rc = ::getnameinfo(result->ai_addr, result->ai_addrlen, numeric, sizeof(numeric),
                               nullptr, 0, NI_NUMERICHOST);
  ::freeaddrinfo(result);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve listen host '", host, "': ", ::gai_strerror(rc)));
  }
  return std::string(numeric);
}

// gloo words its timeouts "Timed out ..." (unbound buffers) or "Read timeout" (pairs).
bool IsTimeout(const std::string& gloo_error) {
  const std::string lower = absl::AsciiStrToLower(gloo_error);
  return absl::StrContains(lower, "timed out") || absl::StrContains(lower, "timeout");
}

// Classic allreduces up to this size would run on the synchronous-mode connections. Off (0):
// under TSan an Abort of an operation blocked on a synchronous-mode socket hung once in CI,
// and one host is served by shared memory anyway. Re-enable once that is understood.
constexpr size_t kSyncModeMaxBytes = 0;

void SumFloats(void* out, const void* a, const void* b, size_t n) {
  gloo::sum<float>(out, a, b, n);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollectiveGroup>> CollectiveGroup::Create(
    const GroupOptions& options) {
  if (options.job_id.empty()) return absl::InvalidArgumentError("group job_id is empty");
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group rank ", options.rank, " is not in [0, world_size ", options.world_size, ")"));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("group timeout must be positive");
  }
  if (options.store == nullptr && options.world_size > 1) {
    return absl::InvalidArgumentError("a group of more than one rank needs a rendezvous store");
  }
  // gloo writes to its sockets without MSG_NOSIGNAL, so a peer that dies mid-write would
  // kill this process with SIGPIPE instead of failing the operation. Ignoring SIGPIPE turns
  // that into the EPIPE error gloo already handles. Idempotent, so done on every Create.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string prefix = GenerationPrefix(options.job_id, options.generation);
  ASSIGN_OR_RETURN(const std::string listen_address, ResolveListenHost(options.listen_host));
  try {
    gloo::transport::tcp::attr attr;
    attr.hostname = listen_address;
    std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
    auto context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    context->setTimeout(absl::ToChronoMilliseconds(options.timeout));
    // A second set of connections, switched to gloo's synchronous mode, carries the classic
    // algorithms: the calling thread reads its socket itself instead of waiting for the
    // device's event-loop thread to hand the data over. On a busy 2-core machine that
    // hand-off is what makes small allreduces slow and erratic. The unbound-buffer
    // collectives need the event loop, so they keep the asynchronous connections.
    auto sync_context =
        std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    sync_context->setTimeout(absl::ToChronoMilliseconds(options.timeout));
    if (options.world_size > 1) {
      GlooStoreAdapter store(options.store, prefix, options.timeout);
      context->connectFullMesh(store, device);
      GlooStoreAdapter sync_store(options.store, absl::StrCat(prefix, "sync/"), options.timeout);
      sync_context->connectFullMesh(sync_store, device);
      for (int peer = 0; peer < options.world_size; ++peer) {
        if (peer != options.rank) sync_context->getPair(peer)->setSync(true, false);
      }
    }
    std::unique_ptr<SharedMemoryReducer> shared_memory;
    if (options.world_size > 1 && options.shared_memory) {
      auto attached = SharedMemoryReducer::Attach(
          options.store, prefix, options.rank, options.world_size,
          options.shared_memory_bytes_per_rank / sizeof(float), options.timeout);
      if (!attached.ok()) {
        return absl::Status(
            attached.status().code(),
            absl::StrCat("cannot form group ", prefix, " as rank ", options.rank, "/",
                         options.world_size, ": ", attached.status().message()));
      }
      shared_memory = *std::move(attached);
    }
    return std::unique_ptr<CollectiveGroup>(
        new CollectiveGroup(options, std::move(device), std::move(context), std::move(sync_context),
                            std::move(shared_memory)));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot form group ", prefix, " as rank ",
                                               options.rank, "/", options.world_size, ": ",
                                               e.what()));
  }
}

CollectiveGroup::CollectiveGroup(GroupOptions options,
                                 std::shared_ptr<gloo::transport::Device> device,
                                 std::shared_ptr<gloo::Context> context,
                                 std::shared_ptr<gloo::Context> sync_context,
                                 std::unique_ptr<SharedMemoryReducer> shared_memory)
    : options_(std::move(options)),
      device_(std::move(device)),
      context_(std::move(context)),
      sync_context_(std::move(sync_context)),
      shared_memory_(std::move(shared_memory)) {}

CollectiveGroup::~CollectiveGroup() {
  // Algorithms hold buffers on the context's pairs, and the pairs use the device's event
  // loop: tear down in that order.
  {
    MutexLock lock(&op_mu_);
    classic_.clear();
  }
  shared_memory_.reset();
  sync_context_.reset();
  context_.reset();
  device_.reset();
}

absl::Status CollectiveGroup::health() const {
  MutexLock lock(&state_mu_);
  return failure_;
}

AllreduceAlgorithm CollectiveGroup::ChosenAlgorithm(uint64_t bytes) const {
  return options_.selector.Choose(bytes, options_.world_size);
}

void CollectiveGroup::Abort(absl::string_view reason) {
  {
    MutexLock lock(&state_mu_);
    if (!aborted_) {
      aborted_ = true;
      if (failure_.ok()) {
        failure_ = absl::AbortedError(absl::StrCat("group aborted: ", reason));
      }
    }
  }
  if (shared_memory_ != nullptr) shared_memory_->Abort();
  for (const auto& context : {context_, sync_context_}) {
    for (int peer = 0; peer < options_.world_size; ++peer) {
      if (peer == options_.rank) continue;
      auto* pair = dynamic_cast<gloo::transport::tcp::Pair*>(context->getPair(peer).get());
      if (pair != nullptr) TcpPairInternals::ShutdownIfConnected(*pair);
    }
  }
}

template <typename Op>
absl::Status CollectiveGroup::Run(absl::string_view what, Op&& op) {
  MutexLock op_lock(&op_mu_);
  if (absl::Status failed = health(); !failed.ok()) {
    return absl::Status(failed.code(), absl::StrCat(what, ": ", failed.message()));
  }
  const std::string where =
      absl::StrCat(what, " in ", GenerationPrefix(options_.job_id, options_.generation), " (rank ",
                   options_.rank, "/", options_.world_size, "): ");
  absl::Status result;
  try {
    result = op();
    if (result.ok()) return result;
    result = absl::Status(result.code(), absl::StrCat(where, result.message()));
  } catch (const std::exception& e) {
    const std::string error = e.what();
    result =
        IsTimeout(error)
            ? absl::DeadlineExceededError(absl::StrCat(
                  where, "timed out after ", absl::FormatDuration(options_.timeout), ": ", error))
            : absl::UnavailableError(absl::StrCat(where, "peer failed: ", error));
  }
  absl::Status status;
  {
    MutexLock lock(&state_mu_);
    status = aborted_ ? failure_ : result;
    if (!aborted_) failure_ = status;
  }
  // Close our side so that peers blocked on this rank fail now rather than at their timeout.
  Abort(status.message());
  spdlog::warn("{}", status.ToString());
  return status;
}

absl::Status CollectiveGroup::Allreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("allreduce of ", data.size(), " floats exceeds gloo's int count"));
  }
  const bool automatic = algorithm == AllreduceAlgorithm::kAuto;
  if (automatic) algorithm = ChosenAlgorithm(data.size() * sizeof(float));
  if (!AlgorithmSupportsWorldSize(algorithm, options_.world_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("allreduce algorithm '", AlgorithmName(algorithm),
                     "' needs a power-of-two world size, not ", options_.world_size));
  }
  if (data.empty() || options_.world_size == 1) return health();
  if (automatic && shared_memory_ != nullptr) {
    return Run("allreduce", [&] { return shared_memory_->Allreduce(data, options_.timeout); });
  }
  return Run("allreduce",
             [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return RunAllreduce(data, algorithm); });
}

absl::Span<float> CollectiveGroup::StagingBuffer(size_t count) {
  MutexLock lock(&op_mu_);
  return absl::MakeSpan(Staging(count));
}

std::vector<float>& CollectiveGroup::Staging(size_t count) {
  std::unique_ptr<std::vector<float>>& buffer = staging_[count];
  if (buffer == nullptr) buffer = std::make_unique<std::vector<float>>(count);
  return *buffer;
}

gloo::Algorithm& CollectiveGroup::Classic(AllreduceAlgorithm algorithm, size_t count) {
  std::unique_ptr<gloo::Algorithm>& instance = classic_[{algorithm, count}];
  if (instance != nullptr) return *instance;
  // In synchronous mode both ends of a pair may write at once and each blocks until its
  // whole message is in the kernel's socket buffers; only small messages are sure to fit
  // (a 64 MiB ring deadlocked until the timeout in a test). Larger ones use the event loop.
  const std::shared_ptr<gloo::Context>& context =
      count * sizeof(float) <= kSyncModeMaxBytes ? sync_context_ : context_;
  std::vector<float*> ptrs = {Staging(count).data()};
  const int n = static_cast<int>(count);
  switch (algorithm) {
    case AllreduceAlgorithm::kRing:
      instance = std::make_unique<gloo::AllreduceRing<float>>(context, ptrs, n);
      break;
    case AllreduceAlgorithm::kRingChunked:
      instance = std::make_unique<gloo::AllreduceRingChunked<float>>(context, ptrs, n);
      break;
    case AllreduceAlgorithm::kHalvingDoubling:
      instance = std::make_unique<gloo::AllreduceHalvingDoubling<float>>(context, ptrs, n);
      break;
    default:  // kBcube; the caller routes every other algorithm elsewhere
      instance = std::make_unique<gloo::AllreduceBcube<float>>(context, ptrs, n);
      break;
  }
  return *instance;
}

// Called inside Run(), which holds op_mu_ and catches what gloo throws.
absl::Status CollectiveGroup::RunAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) {
  switch (algorithm) {
    case AllreduceAlgorithm::kRing:
    case AllreduceAlgorithm::kRingChunked:
    case AllreduceAlgorithm::kHalvingDoubling:
    case AllreduceAlgorithm::kBcube: {
      gloo::Algorithm& classic = Classic(algorithm, data.size());
      std::vector<float>& staging = Staging(data.size());
      const bool in_place = data.data() == staging.data();
      if (!in_place) std::copy(data.begin(), data.end(), staging.begin());
      classic.run();
      if (!in_place) std::copy(staging.begin(), staging.end(), data.begin());
      break;
    }
    case AllreduceAlgorithm::kAuto:  // resolved by the caller
    case AllreduceAlgorithm::kAllreduceRing:
    case AllreduceAlgorithm::kAllreduceBcube: {
      gloo::AllreduceOptions opts(context_);
      opts.setOutput(data.data(), data.size());
      opts.setAlgorithm(algorithm == AllreduceAlgorithm::kAllreduceBcube
                            ? gloo::AllreduceOptions::Algorithm::BCUBE
                            : gloo::AllreduceOptions::Algorithm::RING);
      opts.setReduceFunction(&SumFloats);
      opts.setTag(NextTag());
      opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
      gloo::allreduce(opts);
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status CollectiveGroup::Broadcast(absl::Span<char> data, int root) {
  if (root < 0 || root >= options_.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast root ", root, " is not in [0, ", options_.world_size, ")"));
  }
  if (data.empty() || options_.world_size == 1) return health();
  return Run("broadcast", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    gloo::BroadcastOptions opts(context_);
    opts.setOutput(data.data(), data.size());
    opts.setRoot(root);
    opts.setTag(NextTag());
    opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
    gloo::broadcast(opts);
    return absl::OkStatus();
  });
}

absl::Status CollectiveGroup::Broadcast(absl::Span<float> data, int root) {
  return Broadcast(
      absl::Span<char>(reinterpret_cast<char*>(data.data()), data.size() * sizeof(float)), root);
}

absl::Status CollectiveGroup::Allgather(absl::Span<const float> input, absl::Span<float> output) {
  if (output.size() != input.size() * static_cast<size_t>(options_.world_size)) {
    return absl::InvalidArgumentError(absl::StrCat("allgather output holds ", output.size(),
                                                   " floats; it must hold input (", input.size(),
                                                   ") x world size (", options_.world_size, ")"));
  }
  if (input.empty()) return health();
  if (options_.world_size == 1) {
    std::copy(input.begin(), input.end(), output.begin());
    return health();
  }
  return Run("allgather", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    gloo::AllgatherOptions opts(context_);
    opts.setInput(const_cast<float*>(input.data()), input.size());
    opts.setOutput(output.data(), output.size());
    opts.setTag(NextTag());
    opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
    gloo::allgather(opts);
    return absl::OkStatus();
  });
}

absl::Status CollectiveGroup::Barrier() {
  if (options_.world_size == 1) return health();
  return Run("barrier", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    gloo::BarrierOptions opts(context_);
    opts.setTag(NextTag());
    opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
    gloo::barrier(opts);
    return absl::OkStatus();
  });
}

}  // namespace cosched::collectives
