// File: worker/agent/agent.h
// Agent: the worker under a scheduler. It keeps a session with the scheduler, trains
// whatever job the scheduler assigns (gloo groups rendezvous on the scheduler's KV), follows
// the job through its generations, reports progress in heartbeats, and serves inference
// work the scheduler routes to it with the latest weights it has.
#pragma once

#include <grpcpp/security/credentials.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "proto/scheduler.pb.h"
#include "worker/agent/scheduler_membership.h"
#include "worker/agent/scheduler_session.h"
#include "worker/data/idx_reader.h"
#include "worker/inference/compute_token.h"
#include "worker/inference/inference_engine.h"
#include "worker/models/mlp.h"
#include "worker/worker_metrics.h"

namespace cosched::worker {

struct AgentOptions {
  std::string scheduler_address;
  // TLS to the scheduler for the session, the rendezvous and the edge tier; null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string node_id;
  std::string kind = "datacenter";  // or vehicle
  int cpus = 1;
  double link_mbps = 1000;
  std::string zone;
  int64_t memory_bytes = 0;  // memory this node offers to jobs (reported at registration)
  // This node's address for its gloo peers and its host id (empty: this machine's).
  std::string advertise_address = "127.0.0.1";
  std::string host_id;
  std::string vehicle_state_file;                // vehicles: where the eligibility signals are read
  std::string work_dir = "/tmp/cosched-worker";  // checkpoints go to <work_dir>/<job id>
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  WorkerMetrics* metrics = nullptr;
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();

  // Trains assigned jobs until Stop(); returns an error only for what the worker cannot
  // survive (its data cannot be read).
  absl::Status Run() ABSL_LOCKS_EXCLUDED(mu_);
  // A graceful shutdown (SIGTERM): tells the scheduler this worker is going (`why`), takes no
  // new work, and waits up to `timeout` for the scheduler to revoke the running job, which
  // stops at its next step boundary while the job re-forms without it; then Stop(). Past
  // the timeout (the scheduler unreachable) the job stops here anyway and its peers see a
  // member leave.
  void Drain(const std::string& why, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Report {  // what the next heartbeats say about the current or last job
    std::string job_id;
    int64_t generation = 0;
    int64_t step = 0;
    int64_t epoch = 0;
    double test_accuracy = -1;
    std::string checkpoint_dir;
    bool finished = false;
    std::string failure;  // this member's own error: it left the job
    // The last generation that failed here without this member's fault (-1: none).
    int64_t failed_generation = -1;
    std::string generation_failure;
  };

  // A preemption notice for the running job: when it came and by when training must stop.
  struct Notice {
    std::string job_id;
    absl::Time received;
    absl::Time deadline;
  };

  void OnMessage(const cosched::v1::SchedulerMessage& message) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends this node's part in the revoked job (at the trainer's next step boundary).
  void EndMembership(const cosched::v1::Revocation& revocation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a job ended here: whether a notice's budget was kept (logged and counted).
  void SettleNotice(const std::string& job_id) ABSL_LOCKS_EXCLUDED(mu_);
  cosched::v1::WorkerHeartbeat MakeHeartbeat() ABSL_LOCKS_EXCLUDED(mu_);
  // A generation failed here without this worker's fault: the next heartbeat, sent at once,
  // tells the scheduler, which forms a newer one.
  void ReportFailedGeneration(int64_t generation, const absl::Status& why) ABSL_LOCKS_EXCLUDED(mu_);
  void RunJob(const FashionMnist& data, const cosched::v1::Assignment& assignment,
              SchedulerMembership* membership);
  void ServeInference() ABSL_LOCKS_EXCLUDED(mu_);
  cosched::v1::InferenceResult Answer(const cosched::v1::InferenceWork& work);
  // The scheduler asks for the weights of the version this node serves: sends them, or why
  // not.
  void SendWeights(const cosched::v1::SendWeights& request) ABSL_LOCKS_EXCLUDED(mu_);
  // The scheduler picked this idle node to serve a version: a new engine serves it (a node
  // that trains refuses; its engine belongs to its job).
  void LoadModel(const cosched::v1::LoadModel& load) ABSL_LOCKS_EXCLUDED(mu_);

  const AgentOptions options_;
  ComputeToken token_;
  Mutex mu_;
  CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string draining_ ABSL_GUARDED_BY(mu_);  // non-empty: shutting down, and why
  std::optional<cosched::v1::Assignment> next_job_ ABSL_GUARDED_BY(mu_);
  SchedulerMembership* membership_ ABSL_GUARDED_BY(mu_) = nullptr;  // of the running job
  Report report_ ABSL_GUARDED_BY(mu_);
  std::optional<Notice> notice_ ABSL_GUARDED_BY(mu_);
  std::deque<cosched::v1::InferenceWork> inference_work_ ABSL_GUARDED_BY(mu_);
  // The model and engine of the latest job; they outlive the job so the node keeps serving.
  std::shared_ptr<const Mlp> model_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<InferenceEngine> engine_ ABSL_GUARDED_BY(mu_);
  std::string engine_job_ ABSL_GUARDED_BY(mu_);  // the job whose versions engine_ serves
  std::unique_ptr<SchedulerSession> session_;
  std::vector<std::thread> inference_threads_;
};

}  // namespace cosched::worker
