// File: worker/agent/agent.cc
#include "worker/agent/agent.h"

#include "absl/strings/str_cat.h"
#include "collectives/collective_group.h"
#include "collectives/gloo_group.h"
#include "collectives/rendezvous_client.h"
#include "collectives/solo_group.h"
#include "common/job_config.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/agent/vehicle_state.h"
#include "worker/inference/inference_wire.h"
#include "worker/inference/model_weights.h"
#include "worker/trainer/trainer.h"

namespace cosched::worker {
namespace {

constexpr int kInferenceThreads = 4;
// How long a member waits for the scheduler's next assignment after its group changed:
// the scheduler needs the heartbeat TTL to notice a lost member, plus a margin.
constexpr absl::Duration kAssignmentWait = absl::Seconds(60);

}  // namespace

Agent::Agent(AgentOptions options) : options_(std::move(options)) {
  SchedulerSessionOptions session;
  session.address = options_.scheduler_address;
  session.credentials = options_.credentials;
  cosched::v1::RegisterWorker& reg = session.registration;
  reg.set_node_id(options_.node_id);
  reg.set_kind(options_.kind);
  reg.set_cpus(options_.cpus);
  reg.set_link_mbps(options_.link_mbps);
  reg.set_zone(options_.zone);
  reg.set_memory_bytes(options_.memory_bytes);
  session.running = [this] {
    MutexLock lock(&mu_);
    if (membership_ == nullptr) return std::make_pair(std::string(), int64_t{-1});
    return std::make_pair(report_.job_id, report_.generation);
  };
  session.heartbeat = [this] { return MakeHeartbeat(); };
  session.on_message = [this](const cosched::v1::SchedulerMessage& m) { OnMessage(m); };
  for (int i = 0; i < kInferenceThreads; ++i) {
    inference_threads_.emplace_back([this] { ServeInference(); });
  }
  session_ = std::make_unique<SchedulerSession>(std::move(session));
}

Agent::~Agent() {
  Stop();
  session_.reset();  // no more messages arrive
  for (std::thread& thread : inference_threads_) thread.join();
}

void Agent::Drain(const std::string& why, absl::Duration timeout) {
  {
    MutexLock lock(&mu_);
    draining_ = why;
    next_job_.reset();  // a job not started yet is not started
  }
  // Said at once rather than at the next interval; every later heartbeat repeats it, so a
  // reconnect cannot lose it.
  cosched::v1::WorkerMessage message;
  *message.mutable_heartbeat() = MakeHeartbeat();
  if (!session_->Send(message)) spdlog::warn("draining while disconnected from the scheduler");
  const absl::Time deadline = absl::Now() + timeout;
  {
    MutexLock lock(&mu_);
    spdlog::info("draining ({}): {}", why,
                 membership_ != nullptr
                     ? "leaving job " + membership_->job_id() + " when the scheduler revokes it"
                     : std::string("no job to leave"));
    while (membership_ != nullptr && !stopping_) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) {
        spdlog::warn("drain: no revocation from the scheduler within {}; leaving job {} now",
                     absl::FormatDuration(timeout), membership_->job_id());
        break;
      }
    }
  }
  Stop();
}

void Agent::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  if (membership_ != nullptr) {  // a running job ends at its next step boundary
    cosched::v1::Revocation stop;
    stop.set_job_id(membership_->job_id());
    stop.set_reason("the worker is stopping");
    membership_->Revoke(stop);
  }
  changed_.SignalAll();
}

void Agent::EndMembership(const cosched::v1::Revocation& revocation) {
  if (membership_ != nullptr) membership_->Revoke(revocation);
  if (next_job_.has_value() && next_job_->job_id() == revocation.job_id()) next_job_.reset();
  // The scheduler has taken note of how the job ended here: stop reporting it.
  if (membership_ == nullptr && report_.job_id == revocation.job_id()) report_ = Report();
}

void Agent::SettleNotice(const std::string& job_id) {
  MutexLock lock(&mu_);
  if (!notice_.has_value() || notice_->job_id != job_id) return;
  const absl::Time now = absl::Now();
  const bool in_time = now <= notice_->deadline;
  spdlog::info("job {}: training stopped {} after the preemption notice ({} its budget)", job_id,
               absl::FormatDuration(now - notice_->received), in_time ? "within" : "LATE for");
  if (options_.metrics != nullptr) {
    (in_time ? options_.metrics->notices_in_time : options_.metrics->notices_late).Increment();
  }
  notice_.reset();
}

void Agent::OnMessage(const cosched::v1::SchedulerMessage& message) {
  // A megabyte of weights is copied for each of these: not under the lock.
  if (message.has_send_weights()) return SendWeights(message.send_weights());
  if (message.has_load_model()) return LoadModel(message.load_model());
  MutexLock lock(&mu_);
  if (message.has_assignment()) {
    const cosched::v1::Assignment& assignment = message.assignment();
    // A revoked run of the same job refuses it: the job was re-admitted here (e.g. after a
    // scheduler restart lost track of this node), a new run once the old one has ended.
    if (membership_ == nullptr || !membership_->Offer(assignment)) next_job_ = assignment;
  } else if (message.has_revocation()) {
    const cosched::v1::Revocation& revocation = message.revocation();
    spdlog::info("revoked from job {}: {}", revocation.job_id(), revocation.reason());
    EndMembership(revocation);
  } else if (message.has_preemption_notice()) {
    const cosched::v1::PreemptionNotice& notice = message.preemption_notice();
    const absl::Duration budget = absl::Seconds(notice.budget_seconds());
    spdlog::info("preempted from job {}: stop training within {} ({})", notice.job_id(),
                 absl::FormatDuration(budget), notice.reason());
    const bool training = membership_ != nullptr && membership_->job_id() == notice.job_id();
    if (training) notice_ = Notice{notice.job_id(), absl::Now(), absl::Now() + budget};
    cosched::v1::Revocation revocation;
    revocation.set_job_id(notice.job_id());
    revocation.set_generation(notice.generation());
    revocation.set_reason(notice.reason());
    EndMembership(revocation);
  } else if (message.has_inference_work()) {
    inference_work_.push_back(message.inference_work());
  }
  changed_.SignalAll();
}

cosched::v1::WorkerHeartbeat Agent::MakeHeartbeat() {
  cosched::v1::WorkerHeartbeat heartbeat;
  if (options_.kind == "vehicle") {
    absl::StatusOr<cosched::v1::VehicleSignals> signals =
        ReadVehicleState(options_.vehicle_state_file);
    if (signals.ok()) {
      *heartbeat.mutable_signals() = *signals;
    } else {
      spdlog::warn("vehicle state: {} (reporting ineligible)", signals.status().ToString());
    }
  }
  MutexLock lock(&mu_);
  heartbeat.set_job_id(report_.job_id);
  heartbeat.set_generation(report_.generation);
  heartbeat.set_step(report_.step);
  heartbeat.set_epoch(report_.epoch);
  heartbeat.set_test_accuracy(report_.test_accuracy);
  heartbeat.set_checkpoint_dir(report_.checkpoint_dir);
  heartbeat.set_job_finished(report_.finished);
  heartbeat.set_failure(report_.failure);
  if (report_.failed_generation >= 0) {
    heartbeat.set_failed_generation(report_.failed_generation);
    heartbeat.set_generation_failure(report_.generation_failure);
  }
  const std::optional<ModelVersion> served =
      engine_ != nullptr ? engine_->version() : std::optional<ModelVersion>();
  if (served.has_value()) {
    cosched::v1::ServedVersion& version = *heartbeat.mutable_served();
    version.set_model(served->model);
    version.set_version(served->step);
    version.set_test_accuracy(served->test_accuracy);
    version.set_published_unix_seconds(absl::ToUnixSeconds(served->published));
    version.set_job_id(engine_job_);
  }
  if (engine_ != nullptr) {
    // What the scheduler's routing estimate needs, measured here (without it the scheduler
    // assumes its configured service time and an empty queue).
    heartbeat.set_inference_backlog_seconds(absl::ToDoubleSeconds(engine_->backlog()));
    // 0 means "not reported" on the wire, but a small model's measured time per image can be
    // 0: the fixed cost per request (AdmissionOptions::service_overhead) covers a one-image
    // compute. Such a node reports the smallest time instead, 1 us.
    const absl::Duration per_image = std::max(engine_->service_per_image(), absl::Microseconds(1));
    heartbeat.set_service_seconds_per_image(absl::ToDoubleSeconds(per_image));
  }
  heartbeat.set_draining(draining_);
  heartbeat.set_state(membership_ != nullptr ? "training"
                      : engine_ != nullptr   ? "serving"
                                             : "idle");
  return heartbeat;
}

void Agent::ReportFailedGeneration(int64_t generation, const absl::Status& why) {
  {
    MutexLock lock(&mu_);
    report_.failed_generation = generation;
    report_.generation_failure =
        absl::StrCat(absl::StatusCodeToString(why.code()), ": ", why.message());
  }
  session_->HeartbeatSoon();  // the scheduler re-forms the job sooner
}

absl::Status Agent::Run() {
  ASSIGN_OR_RETURN(const FashionMnist data, LoadFashionMnist(options_.data_dir));
  while (true) {
    cosched::v1::Assignment assignment;
    std::unique_ptr<SchedulerMembership> membership;
    {
      MutexLock lock(&mu_);
      // A draining worker starts nothing new; Drain ends with Stop().
      while (!stopping_ && (!next_job_.has_value() || !draining_.empty())) changed_.Wait(&mu_);
      if (stopping_) return absl::OkStatus();
      assignment = *std::move(next_job_);
      next_job_.reset();
      // Set before the lock drops, so no assignment or revocation for this job is missed.
      membership = std::make_unique<SchedulerMembership>(
          assignment.job_id(), kAssignmentWait,
          [this](int64_t generation, const absl::Status& why) {
            ReportFailedGeneration(generation, why);
          });
      membership->Offer(assignment);
      membership_ = membership.get();
      report_ = Report();
      report_.job_id = assignment.job_id();
      report_.generation = assignment.generation();
    }
    RunJob(data, assignment, membership.get());
    {
      MutexLock lock(&mu_);
      membership_ = nullptr;
      changed_.SignalAll();  // a Drain waits for this
    }
    SettleNotice(assignment.job_id());
    session_->HeartbeatSoon();
  }
}

void Agent::RunJob(const FashionMnist& data, const cosched::v1::Assignment& assignment,
                   SchedulerMembership* membership) {
  const std::string& job_id = assignment.job_id();
  auto fail = [&](const absl::Status& status) {
    spdlog::error("job {}: {}", job_id, status.ToString());
    MutexLock lock(&mu_);
    report_.failure = std::string(status.message());
  };
  absl::StatusOr<JobConfig> parsed =
      ParseJobConfigText(assignment.job_yaml(), absl::StrCat("job ", job_id));
  if (!parsed.ok()) return fail(parsed.status());
  JobConfig job = *std::move(parsed);
  // Every job gets its own checkpoint directory, so a new job never resumes an old one.
  job.checkpoint_dir = absl::StrCat(options_.work_dir, "/", job_id);
  absl::StatusOr<Mlp> model = Mlp::Create(job.model.LayerSizes(data.train.pixels_per_image(), 10));
  if (!model.ok()) return fail(model.status());
  auto shared_model = std::make_shared<const Mlp>(*std::move(model));
  AdmissionOptions admission;
  admission.preemption_bound = job.inference.preemption_bound;
  admission.max_queue = static_cast<size_t>(job.inference.max_queue);
  auto engine =
      std::make_shared<InferenceEngine>(shared_model.get(), &token_, admission, options_.metrics);
  collectives::RendezvousClientOptions store_options;
  store_options.credentials = options_.credentials;
  absl::StatusOr<std::unique_ptr<collectives::RendezvousClient>> store =
      collectives::RendezvousClient::Create(options_.scheduler_address, store_options);
  if (!store.ok()) return fail(store.status());

  TrainerOptions trainer_options;
  trainer_options.job = job;
  trainer_options.data = &data;
  trainer_options.initial = SchedulerMembership::FromAssignment(assignment);
  trainer_options.membership = membership;
  trainer_options.token = &token_;
  trainer_options.inference = engine.get();
  trainer_options.metrics = options_.metrics;
  trainer_options.advertise_address = options_.advertise_address;
  trainer_options.host_id = options_.host_id;
  collectives::RendezvousClient* kv = store->get();
  const bool edge_tier = assignment.edge_tier();
  trainer_options.create_group = [kv, job_id, edge_tier](const collectives::GroupOptions& options) {
    collectives::GroupOptions scheduled = options;
    scheduled.job_id = job_id;  // keys live under job/<scheduler job id>/gen/<g>/
    scheduled.store = kv;
    // An edge-tier replica trains alone and listens for nobody.
    if (edge_tier) return collectives::SoloGroup::Create(scheduled);
    return collectives::CreateGroup(scheduled);
  };
  // The edge tier: the replica's client of the scheduler's aggregator, the same address.
  std::unique_ptr<edge::EdgeClient> edge_client;
  if (job.edge.enabled) {
    edge::EdgeClientOptions edge_options;
    edge_options.scheduler_address = options_.scheduler_address;
    edge_options.credentials = options_.credentials;
    edge_options.job_id = job_id;
    edge_options.replica = edge_tier ? options_.node_id : "datacenter";
    edge_options.node_id = options_.node_id;
    edge_options.link_mbps = options_.link_mbps;
    // The data-center replica's ranks share the global batch; a vehicle takes its own.
    edge_options.batch =
        edge_tier && job.edge.vehicle_batch > 0 ? job.edge.vehicle_batch : job.global_batch;
    edge_options.dataset_samples = data.train.size();
    edge_options.metrics = options_.metrics;
    absl::StatusOr<std::unique_ptr<edge::EdgeClient>> client =
        edge::EdgeClient::Create(std::move(edge_options));
    if (!client.ok()) return fail(client.status());
    edge_client = *std::move(client);
    trainer_options.edge = edge_client.get();
  }
  trainer_options.on_progress = [this](const TrainingProgress& progress) {
    MutexLock lock(&mu_);
    report_.step = progress.step;
    report_.generation = progress.generation;
    if (progress.kind == TrainingProgress::Kind::kEpoch) {
      report_.epoch = progress.epoch;
      report_.test_accuracy = progress.test_accuracy;
    }
  };
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(std::move(trainer_options));
  if (!trainer.ok()) return fail(trainer.status());
  {
    MutexLock lock(&mu_);
    model_ = shared_model;
    engine_ = engine;
    engine_job_ = job_id;
    report_.checkpoint_dir = job.checkpoint_dir;
  }
  // The engine serves nothing until the trainer publishes its first version, once this
  // member holds the generation's committed state (not its own initial weights).
  spdlog::info("job {}: generation {}, rank {} of {} ({})", job_id, assignment.generation(),
               assignment.rank(), assignment.world(), assignment.reason());
  absl::StatusOr<TrainingResult> result = (*trainer)->Run();
  if (!result.ok()) return fail(result.status());
  MutexLock lock(&mu_);
  report_.step = result->steps;
  report_.epoch = result->epochs;
  if (result->left_job) return;
  report_.finished = true;
  report_.test_accuracy = result->test_accuracy;
  spdlog::info("job {} finished: test accuracy {:.4f} after {} steps", job_id,
               result->test_accuracy, result->steps);
}

void Agent::ServeInference() {
  while (true) {
    cosched::v1::InferenceWork work;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && inference_work_.empty()) changed_.Wait(&mu_);
      if (stopping_) return;
      work = std::move(inference_work_.front());
      inference_work_.pop_front();
    }
    cosched::v1::WorkerMessage message;
    *message.mutable_inference_result() = Answer(work);
    session_->Send(message);
  }
}

void Agent::SendWeights(const cosched::v1::SendWeights& request) {
  std::shared_ptr<InferenceEngine> engine;
  std::string job;
  {
    MutexLock lock(&mu_);
    engine = engine_;
    job = engine_job_;
  }
  cosched::v1::WorkerMessage message;
  cosched::v1::WeightsUpload& upload = *message.mutable_weights_upload();
  upload.set_model(request.model());
  upload.set_version(request.version());
  absl::StatusOr<InferenceEngine::ServedWeights> served =
      engine == nullptr ? absl::FailedPreconditionError("this node serves no model")
                        : engine->Parameters(request.model(), request.version());
  if (served.ok()) {
    *upload.mutable_weights() =
        EncodeWeights(served->version, engine->model(), served->params, job);
  } else {
    upload.set_error(std::string(served.status().message()));
  }
  session_->Send(message);
}

void Agent::LoadModel(const cosched::v1::LoadModel& load) {
  absl::StatusOr<LoadedWeights> weights = DecodeWeights(load.weights());
  if (!weights.ok()) {
    spdlog::error("not loading a model the scheduler sent: {}", weights.status().ToString());
    return;
  }
  auto model = std::make_shared<const Mlp>(std::move(weights->model));
  auto engine =
      std::make_shared<InferenceEngine>(model.get(), &token_, AdmissionOptions(), options_.metrics);
  const ModelVersion version = weights->version;
  engine->PublishVersion(version, std::move(weights->params));
  MutexLock lock(&mu_);
  if (membership_ != nullptr || next_job_.has_value()) {
    spdlog::warn("not loading {} version {} ({}): this node trains a job", version.model,
                 version.step, load.reason());
    return;
  }
  spdlog::info("serving {} version {} as loaded by the scheduler ({})", version.model, version.step,
               load.reason());
  model_ = std::move(model);
  engine_ = std::move(engine);
  engine_job_ = weights->job;
}

cosched::v1::InferenceResult Agent::Answer(const cosched::v1::InferenceWork& work) {
  const absl::Time arrival = absl::Now();
  cosched::v1::InferenceResult result;
  result.set_request_id(work.request_id());
  std::shared_ptr<const Mlp> model;
  std::shared_ptr<InferenceEngine> engine;
  {
    MutexLock lock(&mu_);
    model = model_;
    engine = engine_;
  }
  auto refuse = [&](const absl::Status& status) {
    result.set_status_code(static_cast<int>(status.code()));
    result.set_status_message(std::string(status.message()));
    return result;
  };
  if (engine == nullptr) {
    return refuse(absl::UnavailableError("this worker has no model yet (it has trained no job)"));
  }
  absl::StatusOr<std::vector<float>> pixels = DecodeImages(work.request(), model->input_size());
  if (!pixels.ok()) return refuse(pixels.status());
  VersionWanted wanted{work.request().model(), work.min_version()};
  if (work.max_version() > 0) wanted.max_step = work.max_version();
  absl::StatusOr<InferenceResult> answer = engine->Infer(
      *std::move(pixels), RequestDeadline(work.request(), arrival, absl::Milliseconds(20)), wanted);
  if (!answer.ok()) return refuse(answer.status());
  FillReply(*answer, result.mutable_reply());
  result.mutable_reply()->set_node_id(options_.node_id);
  return result;
}

}  // namespace cosched::worker
