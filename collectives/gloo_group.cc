// File: collectives/gloo_group.cc
// The one adapter between cosched and gloo: every call into gloo that can throw is made
// through GlooGroup::Run (or inside GlooGroup::Create's try block), which turns exceptions
// into a Status.
#include "collectives/gloo_group.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <exception>
#include <mutex>
#include <stop_token>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collectives/checked_tcp_transport.h"
#include "collectives/exchange_allreduce.h"
#include "collectives/gloo_store_adapter.h"
#include "common/logging.h"
#include "common/rendezvous_keys.h"
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

// Wakes every thread blocked on one of the context's pairs (see TcpPairInternals).
void ShutdownPairs(gloo::Context& context) {
  for (int peer = 0; peer < context.size; ++peer) {
    if (peer == context.rank) continue;
    auto* pair = dynamic_cast<gloo::transport::tcp::Pair*>(context.getPair(peer).get());
    if (pair != nullptr) TcpPairInternals::ShutdownIfConnected(*pair);
  }
}

// gloo's CreateDevice dereferences a null pointer when the host does not resolve (seen under
// ASan), so the name is resolved here first and gloo only ever gets a numeric address.
absl::StatusOr<std::string> ResolveAdvertiseAddress(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve advertise address '", host, "': ", ::gai_strerror(rc)));
  }
  char numeric[NI_MAXHOST];
  const int rc = ::getnameinfo(result->ai_addr, result->ai_addrlen, numeric, sizeof(numeric),
                               nullptr, 0, NI_NUMERICHOST);
  ::freeaddrinfo(result);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve advertise address '", host, "': ", ::gai_strerror(rc)));
  }
  return std::string(numeric);
}

// gloo words its timeouts "Timed out ..." (unbound buffers) or "Read timeout" (pairs).
bool IsTimeout(const std::string& gloo_error) {
  const std::string lower = absl::AsciiStrToLower(gloo_error);
  return absl::StrContains(lower, "timed out") || absl::StrContains(lower, "timeout");
}

void SumFloats(void* out, const void* a, const void* b, size_t n) {
  gloo::sum<float>(out, a, b, n);
}

// Which path automatic allreduces take. Every rank sees the same host ids, so every rank
// decides the same.
AllreducePath ChoosePath(const GroupOptions& options, const HostLayout& layout) {
  if (!options.shared_memory || options.world_size < 2 ||
      layout.host_count() == options.world_size ||
      layout.largest_host_size > SharedMemoryReducer::kMaxRanks) {
    return AllreducePath::kGloo;
  }
  return layout.single_host() ? AllreducePath::kSharedMemory : AllreducePath::kHierarchical;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollectiveGroup>> CreateGroup(const GroupOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<GlooGroup> group, GlooGroup::Create(options));
  return std::unique_ptr<CollectiveGroup>(std::move(group));
}

absl::StatusOr<std::unique_ptr<GlooGroup>> GlooGroup::Create(const GroupOptions& options) {
  RETURN_IF_ERROR(ValidateGroupOptions(options));
  // gloo writes to its sockets without MSG_NOSIGNAL, so a peer that dies mid-write would
  // kill this process with SIGPIPE instead of failing the operation. Ignoring SIGPIPE turns
  // that into the EPIPE error gloo already handles. Idempotent, so done on every Create.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string prefix = GenerationPrefix(options.job_id, options.generation);
  absl::StatusOr<std::string> listen_address = ResolveAdvertiseAddress(options.advertise_address);
  if (!listen_address.ok()) return FormError(options, listen_address.status());
  try {
    // A peer's bytes must not end this process: every message header is checked first.
    std::shared_ptr<gloo::transport::Device> device = CreateCheckedTcpDevice(*listen_address);
    // Superseded while connecting: gloo connects one pair after another and would wait five
    // times its timeout for each peer that left for the newer generation (15 s a pair with the
    // test jobs' 3 s); every pair fails now instead.
    // Only while forming: a formed group moves on at a step boundary.
    std::stop_callback stop_connecting(options.stop, [device] {
      const absl::Status failed = FailAllPairs(*device, "membership moved on (superseded)");
      if (!failed.ok()) spdlog::error("superseded, but still connecting: {}", failed.ToString());
    });
    auto context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    context->setTimeout(absl::ToChronoMilliseconds(options.timeout));
    if (options.world_size > 1) {
      GlooStoreAdapter store(options.store, prefix, options.timeout, options.stop);
      context->connectFullMesh(store, device);
    }
    std::unique_ptr<LinkedAllreduce> direct;
    if (options.world_size > 1) {
      absl::StatusOr<std::unique_ptr<LinkedAllreduce>> connected = ConnectDirectAlgorithm(
          *options.store, absl::StrCat(prefix, "direct/"), options.rank, options.world_size,
          *listen_address, options.timeout, options.stop);
      if (!connected.ok()) return FormError(options, connected.status());
      direct = *std::move(connected);
    }
    absl::StatusOr<HostParts> host_parts = FormHostParts(options, *listen_address, device);
    if (!host_parts.ok()) return FormError(options, host_parts.status());
    return std::unique_ptr<GlooGroup>(new GlooGroup(options, std::move(device), std::move(context),
                                                    std::move(direct), *std::move(host_parts)));
  } catch (const StoreError& e) {
    // The rendezvous failed in the store (keys missing at the timeout, the generation
    // superseded): keep the store's code, DEADLINE_EXCEEDED or CANCELLED.
    return FormError(options, e.status());
  } catch (const std::exception& e) {
    if (options.stop.stop_requested()) {
      return FormError(options, absl::CancelledError("membership moved on (superseded)"));
    }
    return FormError(options, absl::UnavailableError(e.what()));
  }
}

// Called inside Create's try block: connecting the leaders' mesh may throw.
absl::StatusOr<GlooGroup::HostParts> GlooGroup::FormHostParts(
    const GroupOptions& options, const std::string& listen_address,
    std::shared_ptr<gloo::transport::Device> device) {
  HostParts parts;
  const std::string prefix = GenerationPrefix(options.job_id, options.generation);
  if (!options.shared_memory || options.world_size < 2) {
    // Nothing is shared, so where the ranks run does not matter: count each as its own host.
    std::vector<std::string> own_hosts;
    for (int r = 0; r < options.world_size; ++r) own_hosts.push_back(absl::StrCat(r));
    parts.layout = HostLayout::FromHostIds(own_hosts, options.rank);
    return parts;
  }
  ASSIGN_OR_RETURN(parts.layout,
                   HostLayout::Exchange(options.store, prefix, options.rank, options.world_size,
                                        options.host_id, options.timeout, options.stop));
  const HostLayout& layout = parts.layout;
  const AllreducePath path = ChoosePath(options, layout);
  if (path == AllreducePath::kGloo) return parts;
  if (layout.local_size() > 1) {
    // Each host's segment has keys of its own, named after its leader.
    ASSIGN_OR_RETURN(
        parts.host_memory,
        SharedMemoryReducer::Attach(
            options.store, absl::StrCat(prefix, "shm/", layout.local_ranks[0], "/"),
            layout.local_rank, layout.local_size(),
            options.shared_memory_bytes_per_rank / sizeof(float), options.timeout, options.stop));
  }
  if (path == AllreducePath::kHierarchical && layout.is_leader()) {
    auto leaders =
        std::make_shared<gloo::rendezvous::Context>(layout.leader_index, layout.host_count());
    leaders->setTimeout(absl::ToChronoMilliseconds(options.timeout));
    GlooStoreAdapter store(options.store, absl::StrCat(prefix, "leaders/"), options.timeout,
                           options.stop);
    leaders->connectFullMesh(store, device);
    parts.leaders = std::move(leaders);
    ASSIGN_OR_RETURN(parts.leaders_direct,
                     ConnectDirectAlgorithm(*options.store, absl::StrCat(prefix, "leaders/direct/"),
                                            layout.leader_index, layout.host_count(),
                                            listen_address, options.timeout, options.stop));
  }
  return parts;
}

GlooGroup::GlooGroup(GroupOptions options, std::shared_ptr<gloo::transport::Device> device,
                     std::shared_ptr<gloo::Context> context,
                     std::unique_ptr<LinkedAllreduce> direct, HostParts host_parts)
    : CollectiveGroup(GroupIdentity{options.job_id, options.generation, options.rank,
                                    options.world_size, options.timeout}),
      options_(std::move(options)),
      device_(std::move(device)),
      context_(std::move(context)),
      layout_(std::move(host_parts.layout)),
      host_memory_(std::move(host_parts.host_memory)),
      leaders_context_(std::move(host_parts.leaders)),
      direct_(std::move(direct)),
      leaders_direct_(std::move(host_parts.leaders_direct)),
      path_(ChoosePath(options_, layout_)) {}

GlooGroup::~GlooGroup() {
  // Algorithms hold buffers on the context's pairs, and the pairs use the device's event
  // loop: tear down in that order.
  {
    MutexLock lock(&op_mu_);
    classic_.clear();
  }
  host_memory_.reset();
  leaders_context_.reset();
  context_.reset();
  device_.reset();
}

absl::Status GlooGroup::health() const {
  MutexLock lock(&state_mu_);
  return failure_;
}

AllreduceAlgorithm GlooGroup::ChosenAlgorithm(uint64_t bytes) const {
  return options_.selector.Choose(
      bytes, path_ == AllreducePath::kHierarchical ? layout_.host_count() : options_.world_size);
}

void GlooGroup::Abort(absl::string_view reason) {
  {
    MutexLock lock(&state_mu_);
    if (!aborted_) {
      aborted_ = true;
      if (failure_.ok()) {
        failure_ = absl::AbortedError(absl::StrCat("group aborted: ", reason));
      }
    }
  }
  if (host_memory_ != nullptr) host_memory_->Abort();
  ShutdownPairs(*context_);
  if (leaders_context_ != nullptr) ShutdownPairs(*leaders_context_);
  if (direct_ != nullptr) direct_->Abort();
  if (leaders_direct_ != nullptr) leaders_direct_->Abort();
}

template <typename Op>
absl::Status GlooGroup::Run(absl::string_view what, Op&& op) {
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

absl::Status GlooGroup::DoAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) {
  if (algorithm == AllreduceAlgorithm::kAuto) {
    switch (path_) {
      case AllreducePath::kSharedMemory:
        return Run("allreduce", [&] { return host_memory_->Allreduce(data, options_.timeout); });
      case AllreducePath::kHierarchical:
        return Run("allreduce",
                   [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return RunHierarchical(data); });
      case AllreducePath::kGloo:
        algorithm = ChosenAlgorithm(data.size() * sizeof(float));
        break;
    }
  }
  return Run("allreduce",
             [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return RunOnMesh(context_, data, algorithm); });
}

// Called inside Run(). The non-leaders of a host wait in BroadcastFromLeader while their
// leader talks to the other leaders; a leader that fails aborts, which poisons its host's
// segment, so they stop with it.
absl::Status GlooGroup::RunHierarchical(absl::Span<float> data) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  if (host_memory_ != nullptr) {
    RETURN_IF_ERROR(host_memory_->ReduceToLeader(data, options_.timeout));
  }
  if (leaders_context_ != nullptr) {
    RETURN_IF_ERROR(
        RunOnMesh(leaders_context_, data, ChosenAlgorithm(data.size() * sizeof(float))));
  }
  if (host_memory_ != nullptr) {
    RETURN_IF_ERROR(host_memory_->BroadcastFromLeader(data, deadline - absl::Now()));
  }
  return absl::OkStatus();
}

absl::Span<float> GlooGroup::StagingBuffer(size_t count) {
  MutexLock lock(&op_mu_);
  return absl::MakeSpan(Staging(count));
}

std::vector<float>& GlooGroup::Staging(size_t count) {
  std::unique_ptr<std::vector<float>>& buffer = staging_[count];
  if (buffer == nullptr) buffer = std::make_unique<std::vector<float>>(count);
  return *buffer;
}

gloo::Algorithm& GlooGroup::Classic(const std::shared_ptr<gloo::Context>& context,
                                    AllreduceAlgorithm algorithm, size_t count) {
  std::unique_ptr<gloo::Algorithm>& instance = classic_[{context.get(), algorithm, count}];
  if (instance != nullptr) return *instance;
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
    case AllreduceAlgorithm::kExchange:
      instance = std::make_unique<ExchangeAllreduce>(context, ptrs[0], count);
      break;
    default:  // kBcube; the caller routes every other algorithm elsewhere
      instance = std::make_unique<gloo::AllreduceBcube<float>>(context, ptrs, n);
      break;
  }
  return *instance;
}

// Called inside Run(), which holds op_mu_ and catches what gloo throws.
absl::Status GlooGroup::RunOnMesh(const std::shared_ptr<gloo::Context>& context,
                                  absl::Span<float> data, AllreduceAlgorithm algorithm) {
  switch (algorithm) {
    case AllreduceAlgorithm::kDirect: {
      LinkedAllreduce* direct = context == context_ ? direct_.get() : leaders_direct_.get();
      if (direct == nullptr) {  // a mesh of one: nothing to add
        return absl::OkStatus();
      }
      return direct->Run(data, options_.timeout);
    }
    case AllreduceAlgorithm::kRing:
    case AllreduceAlgorithm::kRingChunked:
    case AllreduceAlgorithm::kHalvingDoubling:
    case AllreduceAlgorithm::kBcube:
    case AllreduceAlgorithm::kExchange: {
      gloo::Algorithm& classic = Classic(context, algorithm, data.size());
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
      gloo::AllreduceOptions opts(context);
      opts.setOutput(data.data(), data.size());
      opts.setAlgorithm(algorithm == AllreduceAlgorithm::kAllreduceBcube
                            ? gloo::AllreduceOptions::Algorithm::BCUBE
                            : gloo::AllreduceOptions::Algorithm::RING);
      opts.setReduceFunction(&SumFloats);
      opts.setTag(NextTag(context.get()));
      opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
      gloo::allreduce(opts);
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status GlooGroup::DoBroadcast(absl::Span<char> data, int root) {
  return Run("broadcast", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    gloo::BroadcastOptions opts(context_);
    opts.setOutput(data.data(), data.size());
    opts.setRoot(root);
    opts.setTag(NextTag(context_.get()));
    opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
    gloo::broadcast(opts);
    return absl::OkStatus();
  });
}

absl::Status GlooGroup::DoAllgather(absl::Span<const float> input, absl::Span<float> output) {
  return Run("allgather", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    gloo::AllgatherOptions opts(context_);
    opts.setInput(const_cast<float*>(input.data()), input.size());
    opts.setOutput(output.data(), output.size());
    opts.setTag(NextTag(context_.get()));
    opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
    gloo::allgather(opts);
    return absl::OkStatus();
  });
}

absl::Status GlooGroup::DoBarrier() {
  return Run("barrier", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    gloo::BarrierOptions opts(context_);
    opts.setTag(NextTag(context_.get()));
    opts.setTimeout(absl::ToChronoMilliseconds(options_.timeout));
    gloo::barrier(opts);
    return absl::OkStatus();
  });
}

}  // namespace cosched::collectives
