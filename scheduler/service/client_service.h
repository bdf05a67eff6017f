// File: scheduler/service/client_service.h
// The Scheduler gRPC service (proto/scheduler.proto) for coschedctl and other clients:
// every call becomes one closure on the core's loop thread; Infer is routed by the core and
// carried to the chosen worker over its session.
#pragma once

#include <functional>

#include "common/tls/authorizer.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/service/client_limits.h"
#include "scheduler/service/core_runner.h"
#include "scheduler/service/scheduler_metrics.h"
#include "scheduler/service/session_hub.h"

namespace cosched::scheduler {

class ClientService final : public cosched::v1::Scheduler::Service {
 public:
  // `metrics` may be null.
  ClientService(CoreRunner* runner, SessionHub* hub, SchedulerMetrics* metrics = nullptr)
      : runner_(runner), hub_(hub), metrics_(metrics) {
    set_limits(ClientLimits{});
  }

  grpc::Status SubmitJob(grpc::ServerContext* context, const cosched::v1::SubmitJobRequest* request,
                         cosched::v1::SubmitJobReply* reply) override;
  grpc::Status GetJob(grpc::ServerContext* context, const cosched::v1::GetJobRequest* request,
                      cosched::v1::JobStatus* reply) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const cosched::v1::ListJobsRequest* request,
                        cosched::v1::ListJobsReply* reply) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const cosched::v1::CancelJobRequest* request,
                         cosched::v1::CancelJobReply* reply) override;
  grpc::Status ListNodes(grpc::ServerContext* context, const cosched::v1::ListNodesRequest* request,
                         cosched::v1::ListNodesReply* reply) override;
  grpc::Status Infer(grpc::ServerContext* context, const cosched::v1::InferRequest* request,
                     cosched::v1::InferReply* reply) override;
  grpc::Status Explain(grpc::ServerContext* context, const cosched::v1::ExplainRequest* request,
                       cosched::v1::ExplainReply* reply) override;
  grpc::Status ListModels(grpc::ServerContext* context,
                          const cosched::v1::ListModelsRequest* request,
                          cosched::v1::ListModelsReply* reply) override;
  grpc::Status PromoteModel(grpc::ServerContext* context,
                            const cosched::v1::PromoteModelRequest* request,
                            cosched::v1::ModelStatus* reply) override;
  grpc::Status PublishModelVersion(grpc::ServerContext* context,
                                   const cosched::v1::PublishModelVersionRequest* request,
                                   cosched::v1::ModelStatus* reply) override;

  // Adds what the core does not hold to a job's status (the edge tier's rounds, from
  // scheduler/edge); called off the core's thread, after the core filled the rest.
  void set_job_details(std::function<void(cosched::v1::JobStatus*)> details) {
    job_details_ = std::move(details);
  }

  // Checks each caller's identity and role (not owned; null: every caller is the admin
  // "anonymous", as for a server without TLS).
  void set_authorizer(tls::Authorizer* authorizer) { authorizer_ = authorizer; }
  // Per-client limits (client_limits.h); set before the server starts.
  void set_limits(const ClientLimits& limits);

 private:
  // The caller, if it may do `action`, which needs `minimum`.
  absl::StatusOr<tls::Identity> Caller(const grpc::ServerContext& context, tls::Role minimum,
                                       absl::string_view action);

  CoreRunner* const runner_;
  SessionHub* const hub_;
  SchedulerMetrics* const metrics_;
  std::function<void(cosched::v1::JobStatus*)> job_details_;
  tls::Authorizer* authorizer_ = nullptr;
  int max_jobs_per_client_ = 0;
  std::unique_ptr<RateLimiter> submits_;
  std::unique_ptr<RateLimiter> infers_;
};

// The job spec a submitted job YAML asks for (workers and scheduling sections).
absl::StatusOr<JobSpec> JobSpecFromYaml(const std::string& yaml);

}  // namespace cosched::scheduler
