// File: tests/security_e2e_test.cc
// Trust, end to end: a real cosched-scheduler over mutual TLS, and clients and nodes that
// are real gRPC peers with real certificates (docs/security.md). The nodes here are played by
// the test itself over the WorkerSession protocol, so that it can do what a real worker never
// would (claim another id, answer a request it was not sent) and see exactly what the
// scheduler answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "collectives/rendezvous_client.h"
#include "common/tls/cert_authority.h"
#include "common/tls/token_file.h"
#include "common/tls/x509_util.h"
#include "tests/scheduler_cluster.h"
#include "tests/support/http_get.h"

namespace cosched {
namespace {

using ::testing::HasSubstr;
using WorkerStream =
    grpc::ClientReaderWriter<cosched::v1::WorkerMessage, cosched::v1::SchedulerMessage>;

// A node's session as the test plays it: a real stream over TLS with `files`' certificate.
class FakeNode {
 public:
  FakeNode(const std::string& address, const tls::TlsFlags& files) {
    stub_ = cosched::v1::WorkerSession::NewStub(
        grpc::CreateChannel(address, tls::SchedulerChannelCredentials(files)));
    // A test that waits for a message that never comes fails instead of hanging.
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stream_ = stub_->Connect(&context_);
  }
  ~FakeNode() {
    context_.TryCancel();
    if (!finished_) stream_->Finish().ok();  // a cancelled session's status says nothing
  }

  // Sends a registration; returns the scheduler's first answer, or the status that ended
  // the session instead.
  absl::StatusOr<cosched::v1::SchedulerMessage> Register(const std::string& node_id,
                                                         const std::string& kind) {
    cosched::v1::WorkerMessage message;
    message.mutable_registration()->set_node_id(node_id);
    message.mutable_registration()->set_kind(kind);
    message.mutable_registration()->set_cpus(1);
    message.mutable_registration()->set_link_mbps(1000);
    stream_->Write(message);
    return Next();
  }
  // The next message from the scheduler, or the status that ended the session.
  absl::StatusOr<cosched::v1::SchedulerMessage> Next() {
    cosched::v1::SchedulerMessage message;
    if (stream_->Read(&message)) return message;
    const grpc::Status status = stream_->Finish();
    finished_ = true;
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  // The next message of the kind `has` selects, skipping others.
  absl::StatusOr<cosched::v1::SchedulerMessage> NextWhere(
      bool (cosched::v1::SchedulerMessage::*has)() const) {
    while (true) {
      absl::StatusOr<cosched::v1::SchedulerMessage> message = Next();
      if (!message.ok() || ((*message).*has)()) return message;
    }
  }
  void Send(const cosched::v1::WorkerMessage& message) { stream_->Write(message); }
  // A heartbeat saying the node serves `model` at `version` and is otherwise idle.
  void HeartbeatServing(const std::string& model, int64_t version) {
    cosched::v1::WorkerMessage message;
    cosched::v1::WorkerHeartbeat& heartbeat = *message.mutable_heartbeat();
    heartbeat.set_state("idle");
    heartbeat.set_service_seconds_per_image(0.001);
    heartbeat.mutable_served()->set_model(model);
    heartbeat.mutable_served()->set_version(version);
    heartbeat.mutable_served()->set_test_accuracy(0.8);
    heartbeat.mutable_served()->set_published_unix_seconds(absl::ToUnixSeconds(absl::Now()));
    heartbeat.mutable_served()->set_job_id("j-imported");
    Send(message);
  }

 private:
  std::unique_ptr<cosched::v1::WorkerSession::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<WorkerStream> stream_;
  bool finished_ = false;
};

class SecurityE2eTest : public SchedulerCluster {
 protected:
  void SetUp() override {
    scheduler_logs_to_stdout_ = true;
    SchedulerCluster::SetUp();
  }
  // The scheduler's count of refused calls for `service` and `code` (0 before the first).
  double CallsRefused(const std::string& service, const std::string& code) {
    auto metrics = testing::HttpGet(metrics_port_, "/metrics");
    EXPECT_TRUE(metrics.ok()) << metrics.status();
    if (!metrics.ok()) return -1;
    std::istringstream lines(*metrics);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("cosched_scheduler_calls_refused_total{", 0) == 0 &&
          line.find(absl::StrCat("service=\"", service, "\"")) != std::string::npos &&
          line.find(absl::StrCat("code=\"", code, "\"")) != std::string::npos) {
        return std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return 0;
  }
  // SubmitJob of `yaml` through `stub`; the job's id goes to `id` when given.
  static grpc::Status SubmitWith(cosched::v1::Scheduler::Stub& stub, const std::string& yaml,
                                 std::string* id = nullptr) {
    grpc::ClientContext context;
    cosched::v1::SubmitJobRequest request;
    request.set_job_yaml(yaml);
    cosched::v1::SubmitJobReply reply;
    const grpc::Status status = stub.SubmitJob(&context, request, &reply);
    if (id != nullptr) *id = reply.job_id();
    return status;
  }
  // Infer of one blank image within `deadline_ms` through `stub`.
  static grpc::Status InferWith(cosched::v1::Scheduler::Stub& stub, int deadline_ms,
                                cosched::v1::InferReply* reply) {
    cosched::v1::InferRequest request;
    request.add_images(std::string(784, '\0'));
    request.set_deadline_ms(deadline_ms);
    grpc::ClientContext context;
    return stub.Infer(&context, request, reply);
  }
  std::vector<std::string> NodeIds() {
    grpc::ClientContext context;
    cosched::v1::ListNodesReply reply;
    EXPECT_TRUE(stub_->ListNodes(&context, {}, &reply).ok());
    std::vector<std::string> ids;
    for (const auto& node : reply.nodes()) ids.push_back(node.node_id());
    return ids;
  }
};

TEST_F(SecurityE2eTest, ANodeCertificateCannotRegisterAsAnotherNode) {
  FakeNode impostor(address_, NodeFiles("car-1", "vehicle"));
  auto refused = impostor.Register("car-2", "vehicle");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("may not register as node car-2"));
  // Nor as itself with another kind.
  FakeNode wrong_kind(address_, NodeFiles("car-1", "vehicle"));
  auto refused_kind = wrong_kind.Register("car-1", "datacenter");
  ASSERT_FALSE(refused_kind.ok());
  EXPECT_EQ(refused_kind.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(NodeIds(), ::testing::IsEmpty());
  // Operators see the refusals in /metrics.
  EXPECT_EQ(CallsRefused("session", "permission_denied"), 2);
  // Its own id and kind are accepted (the control).
  FakeNode honest(address_, NodeFiles("car-1", "vehicle"));
  auto welcome = honest.Register("car-1", "vehicle");
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_TRUE(welcome->has_registered());
  EXPECT_THAT(NodeIds(), ::testing::ElementsAre("car-1"));
}

TEST_F(SecurityE2eTest, APlaintextClientIsRefused) {
  auto plaintext = cosched::v1::Scheduler::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  cosched::v1::ListJobsReply reply;
  EXPECT_EQ(plaintext->ListJobs(&context, {}, &reply).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A TLS client that presents neither a certificate nor a token is refused too.
  // So is a certificate from another CA, with the reason.
  const std::string other_ca = dir_ + "/other-ca";
  auto other = tls::DevelopmentPki::Create(other_ca);
  ASSERT_TRUE(other.ok()) << other.status();
  auto stranger_files = other->Client("admin", tls::Role::kAdmin);
  ASSERT_TRUE(stranger_files.ok());
  stranger_files->ca_file = pki_->Scheduler().ca_file;  // it trusts the real scheduler
  auto stranger = cosched::v1::Scheduler::NewStub(
      grpc::CreateChannel(address_, tls::SchedulerChannelCredentials(*stranger_files)));
  grpc::ClientContext stranger_context;
  const grpc::Status strange = stranger->ListJobs(&stranger_context, {}, &reply);
  EXPECT_EQ(strange.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(strange.error_message(), HasSubstr("unable to get local issuer certificate"));
  tls::TlsFlags anonymous;
  anonymous.ca_file = pki_->Scheduler().ca_file;
  auto no_identity = cosched::v1::Scheduler::NewStub(
      grpc::CreateChannel(address_, tls::SchedulerChannelCredentials(anonymous)));
  grpc::ClientContext again;
  EXPECT_EQ(no_identity->ListJobs(&again, {}, &reply).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// Clients by role: read-only may look, not submit or cancel; submit may cancel its own jobs
// only; a token works like a certificate; no token is no access.
TEST_F(SecurityE2eTest, ClientsWithoutTheRoleCannotSubmitOrCancel) {
  const std::string tokens = dir_ + "/tokens.yaml";
  const std::string reader = tls::NewToken();
  const std::string submitter = tls::NewToken();
  ASSERT_TRUE(tls::AppendToken(tokens, "reader", tls::Role::kRead, reader).ok());
  ASSERT_TRUE(tls::AppendToken(tokens, "submitter", tls::Role::kSubmit, submitter).ok());
  scheduler_extra_args_ = {"--tokens", tokens};
  scheduler_.reset();
  StartScheduler("127.0.0.1:0");
  const auto with_token = [&](const std::string& token) {
    tls::TlsFlags files;
    files.ca_file = pki_->Scheduler().ca_file;
    files.token = token;
    return cosched::v1::Scheduler::NewStub(
        grpc::CreateChannel(address_, tls::SchedulerChannelCredentials(files)));
  };
  const auto submit = [&](cosched::v1::Scheduler::Stub& stub, std::string* id) {
    return SubmitWith(stub, TestJob(1, 1, 100), id);
  };
  const auto cancel = [&](cosched::v1::Scheduler::Stub& stub, const std::string& id) {
    grpc::ClientContext context;
    cosched::v1::CancelJobRequest request;
    request.set_job_id(id);
    cosched::v1::CancelJobReply reply;
    return stub.CancelJob(&context, request, &reply);
  };

  auto read_only = with_token(reader);
  {
    grpc::ClientContext context;
    cosched::v1::ListJobsReply reply;
    EXPECT_TRUE(read_only->ListJobs(&context, {}, &reply).ok());
  }
  const grpc::Status read_submit = submit(*read_only, nullptr);
  EXPECT_EQ(read_submit.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(read_submit.error_message(), HasSubstr("needs the role submit"));
  EXPECT_EQ(submit(*with_token("not-a-token"), nullptr).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  auto by_token = with_token(submitter);
  std::string job;
  ASSERT_TRUE(submit(*by_token, &job).ok());
  EXPECT_EQ(GetJob(job).owner(), "submitter");
  EXPECT_EQ(cancel(*read_only, job).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Another client with the submit role does not own it.
  auto other = ClientStub("bob", tls::Role::kSubmit);
  const grpc::Status not_owner = cancel(*other, job);
  EXPECT_EQ(not_owner.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(not_owner.error_message(), HasSubstr("belongs to submitter"));
  EXPECT_EQ(GetJob(job).state(), "pending");
  ASSERT_TRUE(cancel(*by_token, job).ok());
  EXPECT_EQ(GetJob(job).state(), "cancelled");
  // The admin may cancel anyone's.
  std::string bobs;
  ASSERT_TRUE(submit(*other, &bobs).ok());
  ASSERT_TRUE(cancel(*stub_, bobs).ok());
}

// A node that is not a member of a job can neither write nor read its rendezvous keys; its
// member can.
TEST_F(SecurityE2eTest, AWorkerNotInAJobCannotUseItsRendezvousKeys) {
  FakeNode member(address_, NodeFiles("dc-1"));
  ASSERT_TRUE(member.Register("dc-1", "datacenter").ok());
  const std::string job = Submit(TestJob(1, 1, 100));
  auto assigned = member.NextWhere(&cosched::v1::SchedulerMessage::has_assignment);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  const std::string key = absl::StrCat(assigned->assignment().store_prefix(), "rank/0");
  ASSERT_THAT(key, ::testing::StartsWith(absl::StrCat("job/", job, "/")));

  const auto store_as = [&](const std::string& node) {
    collectives::RendezvousClientOptions options;
    options.rpc_timeout = absl::Seconds(5);
    options.credentials = tls::SchedulerChannelCredentials(NodeFiles(node));
    auto client = collectives::RendezvousClient::Create(address_, options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  };
  auto outsider = store_as("dc-2");
  const absl::Status write = outsider->Set(key, {'e', 'v', 'i', 'l'});
  EXPECT_EQ(write.code(), absl::StatusCode::kPermissionDenied) << write;
  EXPECT_THAT(write.message(), HasSubstr(absl::StrCat("no member of job ", job)));
  EXPECT_EQ(outsider->Get(key, absl::Seconds(1)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(outsider->DeletePrefix(absl::StrCat("job/", job, "/")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CallsRefused("rendezvous", "permission_denied"), 3);

  auto insider = store_as("dc-1");
  ASSERT_TRUE(insider->Set(key, {'o', 'k'}).ok());
  auto value = insider->Get(key, absl::Seconds(5));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(std::string(value->begin(), value->end()), "ok");
}

TEST_F(SecurityE2eTest, AnExpiredCertificateIsRefused) {
  tls::CertificateRequest request;
  request.identity = tls::NodeIdentity("datacenter", "dc-old");
  request.not_before = absl::Now() - absl::Hours(24 * 10);
  request.not_after = absl::Now() - absl::Hours(24 * 9);
  tls::TlsFlags files = pki_->Scheduler();
  files.cert_file = dir_ + "/certs/node-dc-old.pem";
  files.key_file = dir_ + "/certs/node-dc-old-key.pem";
  ASSERT_TRUE(tls::IssueCertificate(files.ca_file, dir_ + "/certs/ca-key.pem", request,
                                    files.cert_file, files.key_file)
                  .ok());
  FakeNode expired(address_, files);
  auto refused = expired.Register("dc-old", "datacenter");
  ASSERT_FALSE(refused.ok());
  // The node is told why, and so is whoever reads the scheduler's log.
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("certificate has expired"));
  EXPECT_THAT(SchedulerLogLine("cosched://node/datacenter/dc-old"),
              HasSubstr("is refused: certificate has expired"));
  EXPECT_THAT(NodeIds(), ::testing::IsEmpty());
}

// Certificates and the CRL are files the scheduler reads again when they change: a node's
// revocation takes effect, and the scheduler's own new certificate is served, with no restart.
TEST_F(SecurityE2eTest, RotatedAndRevokedCertificatesTakeEffectWithoutARestart) {
  // The scheduler was started without a CRL file: start it with one that does not exist yet.
  const std::string crl = dir_ + "/certs/crl.pem";
  scheduler_extra_args_ = {"--tls-crl", crl};
  scheduler_.reset();
  StartScheduler("127.0.0.1:0");
  const tls::TlsFlags dc1 = NodeFiles("dc-1");
  {
    FakeNode before(address_, dc1);
    ASSERT_TRUE(before.Register("dc-1", "datacenter").ok());
  }
  ASSERT_TRUE(
      tls::RevokeCertificate(dc1.ca_file, dir_ + "/certs/ca-key.pem", dc1.cert_file, crl).ok());
  FakeNode after(address_, dc1);
  auto revoked = after.Register("dc-1", "datacenter");
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.status().code(), absl::StatusCode::kUnauthenticated) << revoked.status();
  EXPECT_THAT(SchedulerLogLine("cosched://node/datacenter/dc-1"),
              HasSubstr("is refused: certificate revoked"));

  // The scheduler's certificate, issued again over its files: new connections get the new one.
  const std::string old_serial = tls::ReadCertificate(pki_->Scheduler().cert_file)->serial_hex;
  tls::CertificateRequest request;
  request.identity = tls::SchedulerIdentity();
  request.not_before = absl::Now() - absl::Minutes(5);
  request.not_after = absl::Now() + absl::Hours(24);
  absl::StatusOr<std::string> new_serial =
      tls::IssueCertificate(dc1.ca_file, dir_ + "/certs/ca-key.pem", request,
                            pki_->Scheduler().cert_file, pki_->Scheduler().key_file);
  ASSERT_TRUE(new_serial.ok()) << new_serial.status();
  ASSERT_NE(*new_serial, old_serial);
  std::string served;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (served != *new_serial && absl::Now() < deadline) {
    auto fresh = ClientStub("admin", tls::Role::kAdmin);  // a new connection each time
    grpc::ClientContext context;
    cosched::v1::ListJobsReply reply;
    ASSERT_TRUE(fresh->ListJobs(&context, {}, &reply).ok());
    const auto pems = context.auth_context()->FindPropertyValues("x509_pem_cert");
    ASSERT_FALSE(pems.empty());
    auto cert = tls::ParseCertificate(std::string(pems[0].data(), pems[0].size()));
    ASSERT_TRUE(cert.ok()) << cert.status();
    served = tls::SerialHex(cert->get());
    if (served != *new_serial) absl::SleepFor(absl::Milliseconds(200));  // the file watcher's
  }
  EXPECT_EQ(served, *new_serial) << "the scheduler still serves serial " << served;
}

TEST_F(SecurityE2eTest, ASecondSessionForALiveNodeIsRefused) {
  FakeNode first(address_, NodeFiles("dc-1"));
  ASSERT_TRUE(first.Register("dc-1", "datacenter").ok());
  FakeNode second(address_, NodeFiles("dc-1"));
  auto refused = second.Register("dc-1", "datacenter");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists) << refused.status();
  // The first session is still the node's: its work still reaches it.
  const std::string job = Submit(TestJob(1, 1, 100));
  auto assigned = first.NextWhere(&cosched::v1::SchedulerMessage::has_assignment);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_EQ(assigned->assignment().job_id(), job);
}

// An answer to `work` as dc-1 serving fashion-mlp version 100 gives it: one image, `label`.
cosched::v1::WorkerMessage AnswerFromDc1(const cosched::v1::InferenceWork& work, uint32_t label) {
  cosched::v1::WorkerMessage message;
  cosched::v1::InferenceResult& result = *message.mutable_inference_result();
  result.set_request_id(work.request_id());
  result.mutable_reply()->add_classes(label);
  result.mutable_reply()->set_node_id("dc-1");
  result.mutable_reply()->set_model("fashion-mlp");
  result.mutable_reply()->set_weights_step(100);
  return message;
}

// An inference request is answered only by the node it was routed to: another node's answer
// under its request id is dropped, however quick.
TEST_F(SecurityE2eTest, AnAnswerFromANodeTheRequestWasNotRoutedToIsDropped) {
  FakeNode server(address_, NodeFiles("dc-1"));
  ASSERT_TRUE(server.Register("dc-1", "datacenter").ok());
  FakeNode rogue(address_, NodeFiles("dc-2"));
  ASSERT_TRUE(rogue.Register("dc-2", "datacenter").ok());
  {
    // The model's version 100 (a 784-10 layer of zeros), served from now on.
    grpc::ClientContext context;
    cosched::v1::PublishModelVersionRequest publish;
    cosched::v1::ModelWeights& weights = *publish.mutable_weights();
    weights.set_model("fashion-mlp");
    weights.set_version(100);
    weights.add_layer_sizes(784);
    weights.add_layer_sizes(10);
    weights.set_parameters(std::string((784 * 10 + 10) * sizeof(float), '\0'));
    weights.set_test_accuracy(0.8);
    publish.set_promote(true);
    cosched::v1::ModelStatus status;
    const grpc::Status published = stub_->PublishModelVersion(&context, publish, &status);
    ASSERT_TRUE(published.ok()) << published.error_message();
  }
  server.HeartbeatServing("fashion-mlp", 100);
  // Until the scheduler has taken the heartbeat in, it routes nothing to the node.
  const absl::Time ready_by = absl::Now() + absl::Seconds(20);
  bool serving = false;
  while (!serving && absl::Now() < ready_by) {
    grpc::ClientContext context;
    cosched::v1::ListNodesReply nodes;
    ASSERT_TRUE(stub_->ListNodes(&context, {}, &nodes).ok());
    for (const auto& node : nodes.nodes()) {
      serving = serving || (node.node_id() == "dc-1" && node.served_version() == 100);
    }
    if (!serving) absl::SleepFor(absl::Milliseconds(50));  // polling the scheduler's state
  }
  ASSERT_TRUE(serving) << "the scheduler never saw dc-1 serve version 100";
  const auto infer = [&](int deadline_ms, cosched::v1::InferReply* reply) {
    return InferWith(*stub_, deadline_ms, reply);
  };

  cosched::v1::InferReply forged_reply;
  grpc::Status forged_status;
  std::thread client([&] { forged_status = infer(1500, &forged_reply); });
  auto work = server.NextWhere(&cosched::v1::SchedulerMessage::has_inference_work);
  if (!work.ok()) client.join();
  ASSERT_TRUE(work.ok()) << work.status() << "; the request: " << forged_status.error_message();
  // Otherwise a valid answer: it is dropped for who sent it, nothing else.
  rogue.Send(AnswerFromDc1(work->inference_work(), 9));
  client.join();
  EXPECT_FALSE(forged_status.ok()) << "the forged answer was accepted: class "
                                   << (forged_reply.classes_size() ? forged_reply.classes(0) : -1);
  EXPECT_THAT(SchedulerLogLine("dropped an answer"),
              HasSubstr("from node dc-2: it was routed to dc-1"));

  // The routed node's own answer is taken (the control).
  cosched::v1::InferReply reply;
  grpc::Status status;
  std::thread honest_client([&] { status = infer(5000, &reply); });
  auto honest_work = server.NextWhere(&cosched::v1::SchedulerMessage::has_inference_work);
  if (!honest_work.ok()) honest_client.join();
  ASSERT_TRUE(honest_work.ok()) << honest_work.status();
  server.Send(AnswerFromDc1(honest_work->inference_work(), 7));
  honest_client.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reply.classes_size(), 1);
  EXPECT_EQ(reply.classes(0), 7u);
}

// Per-client limits: unfinished jobs, SubmitJob and Infer rates; each refusal names its limit,
// and one client's use does not count against another's.
TEST_F(SecurityE2eTest, AClientOverItsLimitsIsRefusedNamingTheLimit) {
  RestartSchedulerWith({{"jobs_per_client: 100", "jobs_per_client: 2"},
                        {"submits_per_second: 1", "submits_per_second: 0.001"},
                        {"submit_burst: 30", "submit_burst: 3"},
                        {"infers_per_second: 2000", "infers_per_second: 0.001"},
                        {"infer_burst: 4000", "infer_burst: 2"}});
  auto alice = ClientStub("alice", tls::Role::kSubmit);
  int submitted = 0;
  const auto submit = [&](cosched::v1::Scheduler::Stub& stub) {
    // Each job its own name, so each serves a model of its own.
    return SubmitWith(
        stub,
        absl::StrReplaceAll(TestJob(1, 1, 100),
                            {{"name: test-short", absl::StrCat("name: limited-", ++submitted)}}));
  };
  for (int job = 0; job < 2; ++job) {
    const grpc::Status status = submit(*alice);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const grpc::Status third_job = submit(*alice);
  EXPECT_EQ(third_job.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third_job.error_message(), HasSubstr("the limit of jobs per client"));
  // Its burst of 3 calls is spent, whatever became of them.
  const grpc::Status fourth_call = submit(*alice);
  EXPECT_EQ(fourth_call.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(fourth_call.error_message(), HasSubstr("limit of 0.001 SubmitJob calls a second"));
  // Bob's calls and jobs are his own.
  auto bob = ClientStub("bob", tls::Role::kSubmit);
  EXPECT_TRUE(submit(*bob).ok());

  const auto infer = [&](cosched::v1::Scheduler::Stub& stub) {
    cosched::v1::InferReply reply;
    return InferWith(stub, 100, &reply);
  };
  // No worker is registered, so the first two are refused for that; the third for the rate.
  EXPECT_THAT(infer(*alice).error_message(), HasSubstr("no worker is registered"));
  EXPECT_THAT(infer(*alice).error_message(), HasSubstr("no worker is registered"));
  const grpc::Status third_infer = infer(*alice);
  EXPECT_EQ(third_infer.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third_infer.error_message(), HasSubstr("limit of 0.001 Infer calls a second"));
  EXPECT_THAT(infer(*bob).error_message(), HasSubstr("no worker is registered"));
  // The two calls over a rate (the jobs-per-client refusal is the core's answer, not counted).
  EXPECT_EQ(CallsRefused("client", "resource_exhausted"), 2);
}

}  // namespace
}  // namespace cosched
