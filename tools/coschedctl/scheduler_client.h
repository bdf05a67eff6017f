// File: tools/coschedctl/scheduler_client.h
// SchedulerClient: coschedctl's view of the Scheduler gRPC service. Every call carries a
// deadline (--timeout), so a scheduler that is down or unroutable gives an error in bounded
// time, and every grpc::Status becomes an absl::Status with the same code and message. A
// failure to reach the scheduler at all is marked (IsUnreachable) so main() can tell it from
// an operation the scheduler refused.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/scheduler.grpc.pb.h"

namespace cosched::coschedctl {

class SchedulerClient {
 public:
  // Creates the channel; nothing is dialled until the first call.
  // `credentials`: common/tls/credentials.h's for the scheduler.
  SchedulerClient(std::string address, absl::Duration timeout,
                  std::shared_ptr<grpc::ChannelCredentials> credentials);

  const std::string& address() const { return address_; }

  absl::StatusOr<std::string> SubmitJob(const std::string& job_yaml);
  absl::StatusOr<cosched::v1::JobStatus> GetJob(const std::string& job_id);
  absl::StatusOr<cosched::v1::ListJobsReply> ListJobs();
  absl::Status CancelJob(const std::string& job_id);
  absl::StatusOr<cosched::v1::ListNodesReply> ListNodes();
  absl::StatusOr<cosched::v1::InferReply> Infer(const cosched::v1::InferRequest& request);
  absl::StatusOr<cosched::v1::ExplainReply> Explain(const std::string& job_id);
  // `model` empty: every model.
  absl::StatusOr<cosched::v1::ListModelsReply> ListModels(const std::string& model);
  absl::StatusOr<cosched::v1::ModelStatus> PromoteModel(
      const cosched::v1::PromoteModelRequest& request);
  absl::StatusOr<cosched::v1::ModelStatus> PublishModelVersion(
      const cosched::v1::PublishModelVersionRequest& request);

 private:
  template <typename Request, typename Reply, typename Method>
  absl::StatusOr<Reply> Call(Method method, const Request& request);
  absl::Status FromGrpc(const grpc::Status& status);

  const std::string address_;
  const absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cosched::v1::Scheduler::Stub> stub_;
};

// True for errors that mean no connection to the scheduler could be made (as opposed to the
// scheduler answering with an error).
bool IsUnreachable(const absl::Status& status);

}  // namespace cosched::coschedctl
