// File: tools/coschedctl/scheduler_client.cc
#include "tools/coschedctl/scheduler_client.h"

#include <chrono>

#include "absl/strings/cord.h"
#include "common/grpc_limits.h"

namespace cosched::coschedctl {
namespace {

// The payload that marks "never reached the scheduler" on an absl::Status.
constexpr char kUnreachablePayload[] = "type.cosched.dev/coschedctl.Unreachable";

}  // namespace

SchedulerClient::SchedulerClient(std::string address, absl::Duration timeout,
                                 std::shared_ptr<grpc::ChannelCredentials> credentials)
    : address_(std::move(address)), timeout_(timeout) {
  grpc::ChannelArguments args;
  // The CLI makes a handful of calls; a reconnect backoff longer than --timeout would only
  // turn a scheduler that just came up into a timeout.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  channel_ = grpc::CreateCustomChannel(address_, std::move(credentials), args);
  stub_ = cosched::v1::Scheduler::NewStub(channel_);
}

absl::Status SchedulerClient::FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  // absl and gRPC share the canonical code numbering.
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  // UNAVAILABLE or DEADLINE_EXCEEDED on a channel that never got connected means nobody
  // answered at the address; on a connected channel they are the scheduler's (or a worker's)
  // answer about the operation.
  const bool transport_error = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                               status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (transport_error && channel_->GetState(false) != GRPC_CHANNEL_READY) {
    out.SetPayload(kUnreachablePayload, absl::Cord(address_));
  }
  return out;
}

template <typename Request, typename Reply, typename Method>
absl::StatusOr<Reply> SchedulerClient::Call(Method method, const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  Reply reply;
  const grpc::Status status = ((*stub_).*method)(&context, request, &reply);
  if (!status.ok()) return FromGrpc(status);
  return reply;
}

absl::StatusOr<std::string> SchedulerClient::SubmitJob(const std::string& job_yaml) {
  cosched::v1::SubmitJobRequest request;
  request.set_job_yaml(job_yaml);
  absl::StatusOr<cosched::v1::SubmitJobReply> reply =
      Call<cosched::v1::SubmitJobRequest, cosched::v1::SubmitJobReply>(
          &cosched::v1::Scheduler::Stub::SubmitJob, request);
  if (!reply.ok()) return reply.status();
  return reply->job_id();
}

absl::StatusOr<cosched::v1::JobStatus> SchedulerClient::GetJob(const std::string& job_id) {
  cosched::v1::GetJobRequest request;
  request.set_job_id(job_id);
  return Call<cosched::v1::GetJobRequest, cosched::v1::JobStatus>(
      &cosched::v1::Scheduler::Stub::GetJob, request);
}

absl::StatusOr<cosched::v1::ListJobsReply> SchedulerClient::ListJobs() {
  return Call<cosched::v1::ListJobsRequest, cosched::v1::ListJobsReply>(
      &cosched::v1::Scheduler::Stub::ListJobs, cosched::v1::ListJobsRequest());
}

absl::Status SchedulerClient::CancelJob(const std::string& job_id) {
  cosched::v1::CancelJobRequest request;
  request.set_job_id(job_id);
  return Call<cosched::v1::CancelJobRequest, cosched::v1::CancelJobReply>(
             &cosched::v1::Scheduler::Stub::CancelJob, request)
      .status();
}

absl::StatusOr<cosched::v1::ListNodesReply> SchedulerClient::ListNodes() {
  return Call<cosched::v1::ListNodesRequest, cosched::v1::ListNodesReply>(
      &cosched::v1::Scheduler::Stub::ListNodes, cosched::v1::ListNodesRequest());
}

absl::StatusOr<cosched::v1::InferReply> SchedulerClient::Infer(
    const cosched::v1::InferRequest& request) {
  return Call<cosched::v1::InferRequest, cosched::v1::InferReply>(
      &cosched::v1::Scheduler::Stub::Infer, request);
}

absl::StatusOr<cosched::v1::ExplainReply> SchedulerClient::Explain(const std::string& job_id) {
  cosched::v1::ExplainRequest request;
  request.set_job_id(job_id);
  return Call<cosched::v1::ExplainRequest, cosched::v1::ExplainReply>(
      &cosched::v1::Scheduler::Stub::Explain, request);
}

absl::StatusOr<cosched::v1::ListModelsReply> SchedulerClient::ListModels(const std::string& model) {
  cosched::v1::ListModelsRequest request;
  request.set_model(model);
  return Call<cosched::v1::ListModelsRequest, cosched::v1::ListModelsReply>(
      &cosched::v1::Scheduler::Stub::ListModels, request);
}

absl::StatusOr<cosched::v1::ModelStatus> SchedulerClient::PromoteModel(
    const cosched::v1::PromoteModelRequest& request) {
  return Call<cosched::v1::PromoteModelRequest, cosched::v1::ModelStatus>(
      &cosched::v1::Scheduler::Stub::PromoteModel, request);
}

absl::StatusOr<cosched::v1::ModelStatus> SchedulerClient::PublishModelVersion(
    const cosched::v1::PublishModelVersionRequest& request) {
  return Call<cosched::v1::PublishModelVersionRequest, cosched::v1::ModelStatus>(
      &cosched::v1::Scheduler::Stub::PublishModelVersion, request);
}

bool IsUnreachable(const absl::Status& status) {
  return status.GetPayload(kUnreachablePayload).has_value();
}

}  // namespace cosched::coschedctl
