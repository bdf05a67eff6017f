// File: bench/gloo_rank.cc
// RunGlooRank: the cosched and raw gloo implementations, timed in one process per rank.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/allreduce_impls.h"
#include "bench/allreduce_rank.h"
#include "bench/samples.h"
#include "bench/timing.h"
#include "collectives/collective_group.h"
#include "collectives/file_store.h"
#include "collectives/gloo_group.h"
#include "collectives/gloo_store_adapter.h"
#include "common/logging.h"
#include "common/rendezvous_keys.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "gloo/allreduce.h"
#include "gloo/allreduce_bcube.h"
#include "gloo/allreduce_halving_doubling.h"
#include "gloo/allreduce_ring.h"
#include "gloo/allreduce_ring_chunked.h"
#include "gloo/math.h"
#include "gloo/rendezvous/context.h"
#include "gloo/transport/tcp/device.h"

namespace cosched::bench {
namespace {

using collectives::AllreduceAlgorithm;
using collectives::CollectiveGroup;

// The gloo-* references call gloo directly (that is what they measure), so the benchmark
// has its own catch site for gloo's exceptions, this one; cosched's is CollectiveGroup::Run.
template <typename Fn>
absl::Status GlooCall(absl::string_view what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(what, ": ", e.what()));
  }
}

void SumFloats(void* out, const void* a, const void* b, size_t n) {
  gloo::sum<float>(out, a, b, n);
}

// A raw gloo context with its own TCP device on the rank's advertise address (loopback, or
// its emulated host's address with --hosts), set up the way gloo's own examples do it; no
// cosched code on the data path.
class RawGloo {
 public:
  static absl::StatusOr<std::unique_ptr<RawGloo>> Connect(collectives::KeyValueStore* store,
                                                          const RankOptions& options) {
    auto raw = std::unique_ptr<RawGloo>(new RawGloo(options.op_timeout));
    RETURN_IF_ERROR(GlooCall("raw gloo rendezvous", [&] {
      gloo::transport::tcp::attr attr;
      attr.hostname = options.advertise_address;
      raw->device_ = gloo::transport::tcp::CreateDevice(attr);
      auto context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.ranks);
      context->setTimeout(raw->timeout_);
      collectives::GlooStoreAdapter adapter(
          store, GenerationPrefix(absl::StrCat("raw-", options.launch_name), 0),
          options.op_timeout);
      context->connectFullMesh(adapter, raw->device_);
      raw->context_ = std::move(context);
    }));
    return raw;
  }

  ~RawGloo() {
    context_.reset();  // the pairs use the device's event loop: drop them first
    device_.reset();
  }

  // An op that runs `algorithm` over `data`. A classic algorithm object is constructed
  // here, once, and run() on every call: the strongest way to use those classes.
  absl::StatusOr<AllreduceOp> MakeOp(AllreduceAlgorithm algorithm, absl::Span<float> data) {
    std::shared_ptr<gloo::Algorithm> classic;
    std::vector<float*> ptrs = {data.data()};
    const int count = static_cast<int>(data.size());
    RETURN_IF_ERROR(GlooCall("constructing the gloo algorithm", [&] {
      switch (algorithm) {
        case AllreduceAlgorithm::kRing:
          classic = std::make_shared<gloo::AllreduceRing<float>>(context_, ptrs, count);
          break;
        case AllreduceAlgorithm::kRingChunked:
          classic = std::make_shared<gloo::AllreduceRingChunked<float>>(context_, ptrs, count);
          break;
        case AllreduceAlgorithm::kHalvingDoubling:
          classic = std::make_shared<gloo::AllreduceHalvingDoubling<float>>(context_, ptrs, count);
          break;
        case AllreduceAlgorithm::kBcube:
          classic = std::make_shared<gloo::AllreduceBcube<float>>(context_, ptrs, count);
          break;
        default:
          break;
      }
    }));
    if (classic != nullptr) {
      return AllreduceOp([classic] { return GlooCall("gloo allreduce", [&] { classic->run(); }); });
    }
    // The functional API (gloo::allreduce) takes its options per call.
    const auto gloo_algorithm = algorithm == AllreduceAlgorithm::kAllreduceBcube
                                    ? gloo::AllreduceOptions::Algorithm::BCUBE
                                    : gloo::AllreduceOptions::Algorithm::RING;
    return AllreduceOp([this, data, gloo_algorithm] {
      return GlooCall("gloo::allreduce", [&] {
        gloo::AllreduceOptions opts(context_);
        opts.setOutput(data.data(), data.size());
        opts.setAlgorithm(gloo_algorithm);
        opts.setReduceFunction(&SumFloats);
        opts.setTag(next_tag_++);
        opts.setTimeout(timeout_);
        gloo::allreduce(opts);
      });
    });
  }

 private:
  explicit RawGloo(absl::Duration timeout) : timeout_(absl::ToChronoMilliseconds(timeout)) {}

  const std::chrono::milliseconds timeout_;
  std::shared_ptr<gloo::transport::Device> device_;
  std::shared_ptr<gloo::Context> context_;
  uint32_t next_tag_ = 0;
};

// Barriers and the iteration-count agreement go through the cosched group, outside the
// timed loops.
class GroupSync final : public RankSync {
 public:
  explicit GroupSync(CollectiveGroup& group) : group_(group) {}
  int rank() const override { return group_.rank(); }
  int world_size() const override { return group_.world_size(); }
  absl::Status Barrier() override { return group_.Barrier(); }
  absl::StatusOr<int64_t> BroadcastFromRank0(int64_t value) override {
    char bytes[sizeof(value)];
    std::memcpy(bytes, &value, sizeof(value));
    RETURN_IF_ERROR(group_.Broadcast(absl::Span<char>(bytes, sizeof(bytes)), 0));
    std::memcpy(&value, bytes, sizeof(value));
    return value;
  }

 private:
  CollectiveGroup& group_;
};

absl::Status Annotate(const absl::Status& status, absl::string_view impl, uint64_t size) {
  return absl::Status(status.code(),
                      absl::StrCat(impl, " at ", FormatByteSize(size), ": ", status.message()));
}

}  // namespace

absl::Status RunGlooRank(const RankOptions& options) {
  std::vector<Impl> impls;
  for (const std::string& name : options.impls) {
    ASSIGN_OR_RETURN(Impl impl, FindImpl(name, options.ranks));
    if (impl.launch != Launch::kGlooRanks) {
      return absl::InvalidArgumentError(absl::StrCat("--impls: ", name, " is not a gloo impl"));
    }
    impls.push_back(impl);
  }
  ASSIGN_OR_RETURN(auto store, collectives::FileStore::Open(options.dir + "/store"));
  collectives::GroupOptions group_options;
  group_options.job_id = absl::StrCat("bench-", options.launch_name);
  group_options.rank = options.rank;
  group_options.world_size = options.ranks;
  group_options.store = store.get();
  // host_id stays empty: each emulated host has a host name of its own, so ranks on different
  // hosts are told apart the way real hosts are (and ranks sharing a host share memory).
  group_options.advertise_address = options.advertise_address;
  group_options.timeout = options.op_timeout;
  ASSIGN_OR_RETURN(std::unique_ptr<CollectiveGroup> group, collectives::CreateGroup(group_options));
  ASSIGN_OR_RETURN(std::unique_ptr<RawGloo> raw, RawGloo::Connect(store.get(), options));
  GroupSync sync(*group);

  std::vector<Sample> samples;
  for (const uint64_t size : options.sizes) {
    std::vector<float> buffer(size / sizeof(float));
    const absl::Span<float> data(buffer);
    std::vector<Impl> order = impls;
    std::rotate(order.begin(), order.begin() + options.round % order.size(), order.end());
    for (const Impl& impl : order) {
      AllreduceOp op;
      if (impl.raw_gloo) {
        auto made = raw->MakeOp(impl.algorithm, data);
        if (!made.ok()) return Annotate(made.status(), impl.name, size);
        op = std::move(*made);
      } else {
        // cosched's zero-copy path: the group's own buffer, as the trainer uses it.
        op = [&group, staged = group->StagingBuffer(data.size()), algorithm = impl.algorithm] {
          return group->Allreduce(staged, algorithm);
        };
      }
      const absl::Span<float> timed = impl.raw_gloo ? data : group->StagingBuffer(data.size());
      absl::StatusOr<double> seconds = TimeAllreduce(timed, op, sync, options.timing);
      if (!seconds.ok()) return Annotate(seconds.status(), impl.name, size);
      samples.push_back({impl.name, size, *seconds});
    }
    spdlog::debug("{} done", FormatByteSize(size));
  }
  return WriteSamples(SamplePath(options.dir, options.launch_name, options.rank), samples);
}

}  // namespace cosched::bench
