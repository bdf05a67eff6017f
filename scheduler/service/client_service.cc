// File: scheduler/service/client_service.cc
#include "scheduler/service/client_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/job_config.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "scheduler/service/model_status.h"
#include "scheduler/service/server_transport.h"
#include "scheduler/service/weights_upload.h"

namespace cosched::scheduler {
namespace {

// Whether `caller` may cancel `job`: its owner or an admin.
absl::Status MayCancel(const tls::Identity& caller, const Job& job) {
  if (caller.role == tls::Role::kAdmin || caller.name == job.spec.owner) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(tls::Describe(caller), " may not cancel job ",
                                                  job.id, ": it belongs to ", job.spec.owner,
                                                  " (only its owner or an admin may)"));
}

void FillEvent(const JobEvent& event, cosched::v1::JobEvent* out) {
  out->set_unix_seconds(absl::ToDoubleSeconds(event.time - absl::UnixEpoch()));
  out->set_what(event.what);
}

void FillJob(const SchedulerCore& core, const Job& job, cosched::v1::JobStatus* out) {
  out->set_job_id(job.id);
  out->set_name(job.spec.name);
  out->set_owner(job.spec.owner);
  out->set_state(JobStateName(job.state));
  out->set_priority(job.spec.priority);
  out->set_min_workers(job.spec.min_workers);
  out->set_max_workers(job.spec.max_workers);
  out->set_kind(KindPreferenceName(job.spec.kind));
  out->set_generation(job.generation);
  for (const NodeId& member : job.members) out->add_members(member);
  if (job.spec.edge.enabled) {  // the edge members follow the synchronous group's
    for (size_t i = std::max(job.assignment.world, 0); i < job.members.size(); ++i) {
      out->add_edge_members(job.members[i]);
    }
  }
  out->set_failures(job.failures);
  out->set_max_failures(job.spec.max_failures);
  out->set_step(job.progress.step);
  out->set_epoch(job.progress.epoch);
  out->set_test_accuracy(job.progress.test_accuracy);
  out->set_checkpoint_dir(job.progress.checkpoint_dir);
  out->set_waiting_reason(core.WaitingReason(job));
  out->set_submitted_unix_seconds(absl::ToDoubleSeconds(job.submitted - absl::UnixEpoch()));
  for (const JobEvent& event : job.events) FillEvent(event, out->add_events());
}

}  // namespace

void ClientService::set_limits(const ClientLimits& limits) {
  max_jobs_per_client_ = limits.max_jobs;
  submits_ = std::make_unique<RateLimiter>("SubmitJob calls", limits.submits_per_second,
                                           limits.submit_burst);
  infers_ =
      std::make_unique<RateLimiter>("Infer calls", limits.infers_per_second, limits.infer_burst);
}

absl::StatusOr<tls::Identity> ClientService::Caller(const grpc::ServerContext& context,
                                                    tls::Role minimum, absl::string_view action) {
  if (authorizer_ == nullptr) return tls::ClientIdentity(tls::Role::kAdmin, "anonymous");
  absl::StatusOr<tls::Identity> caller = authorizer_->RequireClient(context, minimum, action);
  if (!caller.ok()) {
    spdlog::warn("refused a call from {}: {}", context.peer(),
                 std::string(caller.status().message()));
    if (metrics_ != nullptr) metrics_->CallRefused("client", caller.status().code());
  }
  return caller;
}

absl::StatusOr<JobSpec> JobSpecFromYaml(const std::string& yaml) {
  ASSIGN_OR_RETURN(const JobConfig config, ParseJobConfigText(yaml, "submitted job"));
  JobSpec spec;
  spec.name = config.name;
  spec.priority = static_cast<int>(config.scheduling.priority);
  spec.min_workers = static_cast<int>(config.min_workers);
  spec.max_workers = static_cast<int>(config.max_workers);
  spec.kind = config.scheduling.kind == "datacenter" ? KindPreference::kDatacenter
              : config.scheduling.kind == "vehicle"  ? KindPreference::kVehicle
                                                     : KindPreference::kAny;
  spec.cpus_per_worker = static_cast<int>(config.scheduling.cpus_per_worker);
  spec.memory_per_worker = static_cast<int64_t>(config.scheduling.memory_per_worker);
  spec.min_link_mbps = config.scheduling.min_link_mbps;
  spec.max_failures = static_cast<int>(config.scheduling.max_failures);
  spec.job_yaml = yaml;
  spec.serving.model = config.serving.model;
  spec.serving.promote = config.serving.promote;
  spec.serving.max_staleness_steps = config.serving.max_staleness_steps;
  spec.edge.enabled = config.edge.enabled;
  spec.edge.sync_min_link_mbps = config.edge.sync_min_link_mbps;
  return spec;
}

grpc::Status ClientService::SubmitJob(grpc::ServerContext* context,
                                      const cosched::v1::SubmitJobRequest* request,
                                      cosched::v1::SubmitJobReply* reply) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kSubmit, "submit jobs");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (request->job_yaml().size() > kMaxJobYamlBytes) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("the job YAML has ", request->job_yaml().size(),
                                     " bytes, more than the limit of ", kMaxJobYamlBytes));
  }
  absl::StatusOr<JobSpec> spec = JobSpecFromYaml(request->job_yaml());
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  if (absl::Status s = submits_->Take(caller->name, absl::Now()); !s.ok()) {
    if (metrics_ != nullptr) metrics_->CallRefused("client", s.code());
    return ToGrpcStatus(s);
  }
  spec->owner = caller->name;
  absl::StatusOr<JobId> id =
      runner_->Call("submit_job",
                    [spec = *std::move(spec),
                     limit = max_jobs_per_client_](SchedulerCore& core) -> absl::StatusOr<JobId> {
                      int unfinished = 0;
                      for (const Job* job : core.Jobs()) {
                        unfinished += job->spec.owner == spec.owner && !IsTerminal(job->state);
                      }
                      if (unfinished >= limit) {
                        return absl::ResourceExhaustedError(absl::StrCat(
                            "client ", spec.owner, " holds ", unfinished,
                            " unfinished jobs, the limit of jobs per client; cancel some or wait"));
                      }
                      return core.SubmitJob(spec);
                    });
  if (!id.ok()) return ToGrpcStatus(id.status());
  reply->set_job_id(*id);
  return grpc::Status::OK;
}

grpc::Status ClientService::GetJob(grpc::ServerContext* context,
                                   const cosched::v1::GetJobRequest* request,
                                   cosched::v1::JobStatus* reply) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kRead, "read jobs");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const bool found = runner_->Call("get_job", [&](SchedulerCore& core) {
    const Job* job = core.FindJob(request->job_id());
    if (job != nullptr) FillJob(core, *job, reply);
    return job != nullptr;
  });
  if (!found) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", request->job_id()));
  }
  if (job_details_) job_details_(reply);
  return grpc::Status::OK;
}

grpc::Status ClientService::ListJobs(grpc::ServerContext* context,
                                     const cosched::v1::ListJobsRequest*,
                                     cosched::v1::ListJobsReply* reply) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kRead, "list jobs");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  runner_->Call("list_jobs", [&](SchedulerCore& core) {
    for (const Job* job : core.Jobs()) FillJob(core, *job, reply->add_jobs());
    return true;
  });
  if (job_details_) {
    for (cosched::v1::JobStatus& job : *reply->mutable_jobs()) job_details_(&job);
  }
  return grpc::Status::OK;
}

grpc::Status ClientService::CancelJob(grpc::ServerContext* context,
                                      const cosched::v1::CancelJobRequest* request,
                                      cosched::v1::CancelJobReply*) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kSubmit, "cancel jobs");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(runner_->Call("cancel_job", [&](SchedulerCore& core) {
    const Job* job = core.FindJob(request->job_id());
    if (job != nullptr) RETURN_IF_ERROR(MayCancel(*caller, *job));
    return core.CancelJob(request->job_id());
  }));
}

grpc::Status ClientService::ListNodes(grpc::ServerContext* context,
                                      const cosched::v1::ListNodesRequest*,
                                      cosched::v1::ListNodesReply* reply) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kRead, "list nodes");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  runner_->Call("list_nodes", [&](SchedulerCore& core) {
    const absl::Time now = absl::Now();
    for (const Node* node : core.Nodes()) {
      cosched::v1::NodeStatus* out = reply->add_nodes();
      out->set_node_id(node->info.id);
      out->set_kind(NodeKindName(node->info.kind));
      out->set_state(NodeStateName(node->state));
      out->set_ineligible_reason(node->ineligible_reason);
      out->set_job_id(node->job);
      out->set_cpus(node->info.cpus);
      out->set_link_mbps(node->info.link_mbps);
      out->set_zone(node->info.zone);
      out->set_seconds_since_heartbeat(absl::ToDoubleSeconds(now - node->last_heartbeat));
      out->set_recent_departures(static_cast<int>(node->departures.size()));
      out->set_service_seconds_per_image(absl::ToDoubleSeconds(node->service_per_image));
      out->set_inference_backlog_seconds(absl::ToDoubleSeconds(node->inference_backlog));
      if (node->served.has_value()) {
        out->set_served_model(node->served->model);
        out->set_served_version(node->served->version);
      }
    }
    return true;
  });
  return grpc::Status::OK;
}

grpc::Status ClientService::Infer(grpc::ServerContext* context,
                                  const cosched::v1::InferRequest* request,
                                  cosched::v1::InferReply* reply) {
  absl::StatusOr<tls::Identity> caller =
      Caller(*context, tls::Role::kSubmit, "send inference requests");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = infers_->Take(caller->name, absl::Now()); !s.ok()) {
    if (metrics_ != nullptr) metrics_->CallRefused("client", s.code());
    return ToGrpcStatus(s);
  }
  const absl::Time arrival = absl::Now();
  if (request->images_size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request has no images");
  }
  if (request->deadline_ms() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "deadline_ms must be > 0");
  }
  const absl::Duration budget = absl::Milliseconds(request->deadline_ms());
  const int images = request->images_size();
  absl::StatusOr<RouteDecision> route = runner_->Call("route_inference", [&](SchedulerCore& core) {
    return core.RouteInference(request->model(), images, budget);
  });
  if (!route.ok()) return ToGrpcStatus(route.status());
  // The worker gets what is left of the budget after routing, and the versions it may answer
  // with.
  cosched::v1::InferenceWork work;
  cosched::v1::InferRequest& forwarded = *work.mutable_request();
  forwarded = *request;
  forwarded.set_model(route->model);
  const absl::Duration left = budget - (absl::Now() - arrival);
  forwarded.set_deadline_ms(
      static_cast<uint32_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
  work.set_min_version(route->versions.min);
  if (route->versions.max != VersionRange().max) work.set_max_version(route->versions.max);
  absl::StatusOr<cosched::v1::InferReply> answer =
      hub_->Infer(route->node, std::move(work), arrival + budget + absl::Seconds(1));
  runner_->Post("inference_done", [node = route->node, images](SchedulerCore& core) {
    core.InferenceDone(node, images);
  });
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  // The worker checked the model; a reply that names another is a broken worker, not an
  // answer.
  if (answer->model() != route->model) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        absl::StrCat("node ", route->node, " answered with model '",
                                     answer->model(), "', not '", route->model, "'"));
  }
  answer->set_node_id(route->node);
  if (metrics_ != nullptr) {
    metrics_->ObserveAnswer(route->model, absl::Seconds(answer->version_age_seconds()));
  }
  *reply = *std::move(answer);
  return grpc::Status::OK;
}

grpc::Status ClientService::Explain(grpc::ServerContext* context,
                                    const cosched::v1::ExplainRequest* request,
                                    cosched::v1::ExplainReply* reply) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kRead, "explain jobs");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const bool found = runner_->Call("explain", [&](SchedulerCore& core) {
    const Job* job = core.FindJob(request->job_id());
    if (job == nullptr) return false;
    std::string summary = absl::StrCat(job->id, " is ", JobStateName(job->state));
    if (job->state == JobState::kRunning) {
      absl::StrAppend(&summary, " at generation ", job->generation, " with ", job->members.size(),
                      " of ", job->spec.max_workers, " workers");
    }
    const std::string waiting = core.WaitingReason(*job);
    if (!waiting.empty()) absl::StrAppend(&summary, ": ", waiting);
    reply->set_summary(summary);
    for (const JobEvent& event : job->events) FillEvent(event, reply->add_events());
    return true;
  });
  if (!found) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", request->job_id()));
  }
  return grpc::Status::OK;
}

grpc::Status ClientService::ListModels(grpc::ServerContext* context,
                                       const cosched::v1::ListModelsRequest* request,
                                       cosched::v1::ListModelsReply* reply) {
  absl::StatusOr<tls::Identity> caller = Caller(*context, tls::Role::kRead, "list models");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const absl::Status status = runner_->Call("list_models", [&](SchedulerCore& core) {
    if (!request->model().empty()) {
      const ServedModel* model = core.models().Find(request->model());
      if (model == nullptr) {
        return absl::NotFoundError(absl::StrCat("no model '", request->model(), "'"));
      }
      FillModelStatus(core, *model, reply->add_models());
      return absl::OkStatus();
    }
    for (const ServedModel* model : core.models().Models()) {
      FillModelStatus(core, *model, reply->add_models());
    }
    return absl::OkStatus();
  });
  return ToGrpcStatus(status);
}

grpc::Status ClientService::PromoteModel(grpc::ServerContext* context,
                                         const cosched::v1::PromoteModelRequest* request,
                                         cosched::v1::ModelStatus* reply) {
  absl::StatusOr<tls::Identity> caller =
      Caller(*context, tls::Role::kAdmin, "promote model versions");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const absl::Status status = runner_->Call("promote_model", [&](SchedulerCore& core) {
    const std::string& model = request->model();
    absl::Status changed;
    switch (request->to_case()) {
      case cosched::v1::PromoteModelRequest::kVersion:
        changed = core.PromoteModel(model, request->version());
        break;
      case cosched::v1::PromoteModelRequest::kRollback:
        changed = core.RollbackModel(model);
        break;
      case cosched::v1::PromoteModelRequest::kPolicy:
        changed = core.UnpinModel(model);
        break;
      case cosched::v1::PromoteModelRequest::TO_NOT_SET:
        changed = absl::InvalidArgumentError("give a version, rollback or policy");
        break;
    }
    if (!changed.ok()) return changed;
    FillModelStatus(core, *core.models().Find(model), reply);
    return absl::OkStatus();
  });
  return ToGrpcStatus(status);
}

grpc::Status ClientService::PublishModelVersion(
    grpc::ServerContext* context, const cosched::v1::PublishModelVersionRequest* request,
    cosched::v1::ModelStatus* reply) {
  absl::StatusOr<tls::Identity> caller =
      Caller(*context, tls::Role::kAdmin, "publish model versions");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  cosched::v1::ModelWeights weights = request->weights();
  // The nodes loaded with these bytes tell a version's age from this time, as the registry
  // does: when the checkpoint was written, if the client says, or now.
  if (!(weights.published_unix_seconds() > 0)) {
    weights.set_published_unix_seconds(absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
  }
  absl::StatusOr<std::shared_ptr<const std::string>> kept = CheckModelWeights(weights);
  if (!kept.ok()) return ToGrpcStatus(kept.status());
  ModelVersionRecord record;
  record.version = weights.version();
  record.published = absl::UnixEpoch() + absl::Seconds(weights.published_unix_seconds());
  record.test_accuracy = weights.test_accuracy() < 0 ? -1 : weights.test_accuracy();
  // Non-empty: the registry tells a checkpoint's version from a job's by it.
  record.checkpoint = request->checkpoint().empty() ? "(file not named)" : request->checkpoint();
  const absl::Status status = runner_->Call("publish_model_version", [&](SchedulerCore& core) {
    const ServedModel* model = core.models().Find(weights.model());
    const Job* trainer = model == nullptr ? nullptr : core.FindJob(model->job);
    if (trainer != nullptr) {
      RETURN_IF_ERROR(CheckPublishedLayers(weights, trainer->id, trainer->spec.job_yaml));
    }
    RETURN_IF_ERROR(core.PublishModelVersion(weights.model(), record, *kept, request->promote()));
    FillModelStatus(core, *core.models().Find(weights.model()), reply);
    return absl::OkStatus();
  });
  return ToGrpcStatus(status);
}

}  // namespace cosched::scheduler
