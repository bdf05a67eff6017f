// File: tools/inference_load.cc
#include "tools/inference_load.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "common/mutex.h"
#include "proto/inference.grpc.pb.h"
#include "proto/scheduler.grpc.pb.h"

namespace cosched::tools {
namespace {

// One request in flight: gRPC's callback API needs these to outlive the call. The load
// loop owns every Call until all have completed: the completion callback must not own its
// Call, or the ClientContext would be destroyed from inside gRPC's completion (when gRPC
// drops the callback), which ended runs with "double free detected" and gRPC refcount
// assertions.
struct Call {
  grpc::ClientContext context;
  cosched::v1::InferRequest request;
  cosched::v1::InferReply reply;
  absl::Time sent;
  uint8_t label = 0;
};

// Collects answers from gRPC's callback threads.
class Tally {
 public:
  void Record(const Call& call, const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    const double latency_ms = absl::ToDoubleMilliseconds(absl::Now() - call.sent);
    MutexLock lock(&mu_);
    --in_flight_;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++report_.refused;
    } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
               status.error_code() == grpc::StatusCode::CANCELLED) {
      ++report_.unavailable;
    } else if (!status.ok()) {
      ++report_.errors;
      if (report_.first_error.empty()) {
        report_.first_error = absl::StrCat(status.error_code(), ": ", status.error_message());
      }
    } else {
      ++report_.admitted;
      report_.met += call.reply.deadline_met() ? 1 : 0;
      report_.correct += call.reply.classes_size() > 0 && call.reply.classes(0) == call.label;
      ++report_
            .answers_by_version[absl::StrCat(call.reply.model(), "@", call.reply.weights_step())];
      report_.latency_ms.push_back(latency_ms);
      report_.preemption_ms.push_back(call.reply.queue_seconds() * 1e3);
      report_.compute_ms.push_back(call.reply.compute_seconds() * 1e3);
    }
    if (in_flight_ == 0) idle_.SignalAll();
  }
  void Sent() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    ++in_flight_;
    ++report_.sent;
  }
  LoadReport WaitForAll() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    while (in_flight_ > 0) idle_.Wait(&mu_);
    return report_;
  }

 private:
  Mutex mu_;
  CondVar idle_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  LoadReport report_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

absl::StatusOr<LoadReport> RunInferenceLoad(const LoadOptions& options) {
  if (options.targets.empty()) return absl::InvalidArgumentError("no inference targets");
  if (options.images == nullptr || options.images->size() == 0) {
    return absl::InvalidArgumentError("no images to send");
  }
  if (options.arrivals.empty() && options.rate_per_second <= 0) {
    return absl::InvalidArgumentError("the request rate must be positive");
  }
  // One asynchronous Infer per target; the worker and scheduler services share the messages.
  using AsyncInfer =
      std::function<void(grpc::ClientContext*, const cosched::v1::InferRequest*,
                         cosched::v1::InferReply*, std::function<void(grpc::Status)>)>;
  std::vector<AsyncInfer> stubs;
  for (const std::string& target : options.targets) {
    auto channel = grpc::CreateChannel(target, options.via_scheduler
                                                   ? tls::SchedulerChannelCredentials(options.tls)
                                                   : grpc::InsecureChannelCredentials());
    if (options.via_scheduler) {
      std::shared_ptr<cosched::v1::Scheduler::Stub> stub = cosched::v1::Scheduler::NewStub(channel);
      stubs.push_back([stub](auto* context, auto* request, auto* reply, auto done) {
        stub->async()->Infer(context, request, reply, std::move(done));
      });
    } else {
      std::shared_ptr<cosched::v1::Inference::Stub> stub = cosched::v1::Inference::NewStub(channel);
      stubs.push_back([stub](auto* context, auto* request, auto* reply, auto done) {
        stub->async()->Infer(context, request, reply, std::move(done));
      });
    }
  }
  const worker::LabeledImages& images = *options.images;
  const size_t pixels = static_cast<size_t>(images.pixels_per_image());
  std::mt19937_64 rng(options.seed);
  std::exponential_distribution<double> gap(options.rate_per_second > 0 ? options.rate_per_second
                                                                        : 1.0);
  // Shared with the callbacks: the last one may still be leaving Record() when WaitForAll()
  // returns.
  auto tally = std::make_shared<Tally>();
  std::vector<std::unique_ptr<Call>> calls;
  const absl::Time start = absl::Now();
  absl::Duration offset = absl::ZeroDuration();
  for (size_t i = 0;; ++i) {
    if (!options.arrivals.empty()) {
      if (i >= options.arrivals.size()) break;
      offset = options.arrivals[i];
    } else {
      offset += absl::Seconds(gap(rng));
    }
    if (offset > options.duration) break;
    if (options.stop != nullptr && options.stop->load()) break;
    absl::SleepFor(start + offset - absl::Now());  // open loop: send at the arrival time

    Call* call = calls.emplace_back(std::make_unique<Call>()).get();
    const size_t index = i % images.size();
    std::string bytes(pixels, '\0');
    for (size_t p = 0; p < pixels; ++p) {
      bytes[p] = static_cast<char>(std::lround(images.image(index)[p] * 255.0f));
    }
    call->request.add_images(std::move(bytes));
    call->request.set_deadline_ms(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(options.deadline)));
    call->label = images.labels[index];
    // The gRPC deadline is generous: the worker's own deadline decides met or missed.
    call->context.set_deadline(
        absl::ToChronoTime(absl::Now() + options.deadline + absl::Seconds(5)));
    call->sent = absl::Now();
    tally->Sent();
    stubs[i % stubs.size()](&call->context, &call->request, &call->reply,
                            [call, tally](grpc::Status status) { tally->Record(*call, status); });
  }
  return tally->WaitForAll();  // then `calls` go, every callback having run
}

absl::StatusOr<std::vector<absl::Duration>> LoadTraceArrivals(const std::string& csv_path,
                                                              double speedup, size_t limit) {
  std::ifstream in(csv_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open trace ", csv_path));
  if (speedup <= 0) return absl::InvalidArgumentError("trace speedup must be positive");
  std::string line;
  std::getline(in, line);  // header
  std::vector<absl::Duration> arrivals;
  absl::Time first = absl::InfinitePast();
  int line_number = 1;
  while (arrivals.size() < limit && std::getline(in, line)) {
    ++line_number;
    const std::string stamp(line.substr(0, line.find(',')));
    // "YYYY-MM-DD HH:MM:SS[.fffffff]": civil seconds plus an optional fraction.
    const std::vector<std::string> parts = absl::StrSplit(stamp, '.');
    absl::CivilSecond civil;
    std::string iso = parts[0];
    std::replace(iso.begin(), iso.end(), ' ', 'T');
    if (!absl::ParseCivilTime(iso, &civil)) {
      return absl::InvalidArgumentError(
          absl::StrCat(csv_path, ":", line_number, ": bad timestamp '", stamp, "'"));
    }
    double fraction = 0;
    if (parts.size() > 1 && !absl::SimpleAtod(absl::StrCat("0.", parts[1]), &fraction)) {
      return absl::InvalidArgumentError(
          absl::StrCat(csv_path, ":", line_number, ": bad fraction in '", stamp, "'"));
    }
    const absl::Time t = absl::FromCivil(civil, absl::UTCTimeZone()) + absl::Seconds(fraction);
    if (first == absl::InfinitePast()) first = t;
    arrivals.push_back((t - first) / speedup);
  }
  if (arrivals.empty()) return absl::InvalidArgumentError(absl::StrCat(csv_path, ": no rows"));
  return arrivals;
}

}  // namespace cosched::tools
