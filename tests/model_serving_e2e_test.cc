// Serving the right model, end to end with real processes (cosched-scheduler and
// cosched-worker processes in scheduler mode): while a job trains, answers routed by the
// scheduler come from a fresh version of the model the request named and score as the job's
// evaluation does; two jobs serve two models and no answer crosses over; a node that left a
// job, holding an old version, answers only once that version is promoted, and rollback
// undoes the promotion; a checkpoint file published with coschedctl serves as a version.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/scheduler_cluster.h"
#include "tests/support/run_command.h"
#include "worker/data/idx_reader.h"

namespace cosched {
namespace {

using ::testing::HasSubstr;

// The test job with a serving section appended (the job mapping is the file's last).
std::string ServingJob(int min_workers, int max_workers, int steps, const std::string& serving) {
  return absl::StrCat(TestJob(min_workers, max_workers, steps), "  serving:\n", serving);
}

class ModelServingTest : public SchedulerCluster {
 protected:
  void SetUp() override {
    SchedulerCluster::SetUp();
    auto data = worker::LoadFashionMnist();
    ASSERT_TRUE(data.ok()) << data.status();
    test_ = std::move(data->test);
  }

  // Test image `i` as the wire carries it.
  std::string Image(int i) const {
    std::string image(784, '\0');
    for (int p = 0; p < 784; ++p) {
      image[p] = static_cast<char>(std::lround(test_.image(i)[p] * 255.0f));
    }
    return image;
  }

  grpc::Status Infer(const std::string& model, int image, cosched::v1::InferReply* reply) {
    cosched::v1::InferRequest request;
    request.add_images(Image(image));
    request.set_deadline_ms(100);
    request.set_model(model);
    grpc::ClientContext context;
    return stub_->Infer(&context, request, reply);
  }

  cosched::v1::ModelStatus Model(const std::string& name) {
    grpc::ClientContext context;
    cosched::v1::ListModelsRequest request;
    request.set_model(name);
    cosched::v1::ListModelsReply reply;
    const grpc::Status status = stub_->ListModels(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply.models_size() == 1 ? reply.models(0) : cosched::v1::ModelStatus();
  }

  // Polls `name` until `done` holds or `timeout` passes; returns the last status seen.
  template <typename Predicate>
  cosched::v1::ModelStatus WaitForModel(const std::string& name, absl::Duration timeout,
                                        Predicate done) {
    const absl::Time deadline = absl::Now() + timeout;
    cosched::v1::ModelStatus model = Model(name);
    while (!done(model) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));  // polling a remote state
      model = Model(name);
    }
    return model;
  }

  cosched::v1::NodeStatus Node(const std::string& id) {
    grpc::ClientContext context;
    cosched::v1::ListNodesReply nodes;
    EXPECT_TRUE(stub_->ListNodes(&context, {}, &nodes).ok());
    for (const cosched::v1::NodeStatus& node : nodes.nodes()) {
      if (node.node_id() == id) return node;
    }
    return {};
  }

  // Polls `done` (a remote state) until it holds or a minute passes; returns the last answer.
  static bool WaitUntil(const std::function<bool()>& done) {
    for (absl::Time until = absl::Now() + absl::Minutes(1); absl::Now() < until;) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(100));  // the next heartbeat
    }
    return done();
  }

  // The vehicle stays parked but is unplugged: it may not train (it leaves its job at a step
  // boundary) but may still answer, with the version it left with.
  void Unplug(const std::string& vehicle) {
    const std::string state = VehicleStatePath(vehicle);
    std::ofstream(state + ".tmp")
        << "{parked: true, plugged_in: false, battery: 0.9, unmetered_link: true}\n";
    std::filesystem::rename(state + ".tmp", state);
  }

  grpc::Status Promote(const cosched::v1::PromoteModelRequest& request) {
    grpc::ClientContext context;
    cosched::v1::ModelStatus reply;
    return stub_->PromoteModel(&context, request, &reply);
  }

  void Cancel(const std::string& id) {
    grpc::ClientContext context;
    cosched::v1::CancelJobRequest cancel;
    cancel.set_job_id(id);
    cosched::v1::CancelJobReply cancelled;
    EXPECT_TRUE(stub_->CancelJob(&context, cancel, &cancelled).ok());
  }

  worker::LabeledImages test_;
};

TEST_F(ModelServingTest, AnswersDuringTrainingAreFreshAndScoreAsTheJobsEvaluation) {
  StartWorker("dc-1");
  StartWorker("dc-2");
  const std::string id = Submit(ServingJob(2, 2, 100000, "    model: fashion\n"));
  // An evaluation ends each epoch (938 steps of 64 samples). Just after the first, accuracy
  // still climbs fast: answers from later versions once scored 2.4 points above it (CI,
  // 2026-12-07). By the third the curve is flatter.
  auto job = WaitFor(id, absl::Minutes(3),
                     [](const auto& j) { return j.epoch() >= 3 && j.test_accuracy() >= 0; });
  ASSERT_GE(job.epoch(), 3) << Events(job);
  int answered = 0, correct = 0, refused = 0;
  for (int i = 0; i < 1000; ++i) {
    const cosched::v1::ModelStatus before = Model("fashion");
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer("fashion", i, &reply);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      continue;
    }
    ASSERT_TRUE(status.ok()) << "request " << i << ": " << status.error_message();
    ++answered;
    correct += reply.classes(0) == test_.labels[i];
    EXPECT_EQ(reply.model(), "fashion");
    EXPECT_THAT(reply.node_id(), ::testing::AnyOf("dc-1", "dc-2"));
    // No older than the bound (twice the publishing cadence by default) behind the version
    // that served before the request was sent.
    EXPECT_GE(reply.weights_step(), before.serving_version() - before.max_staleness_steps())
        << "request " << i;
    EXPECT_GE(reply.version_age_seconds(), 0);
  }
  job = GetJob(id);
  const double accuracy = static_cast<double>(correct) / answered;
  EXPECT_GE(answered, 950) << refused << " refused";
  EXPECT_NEAR(accuracy, job.test_accuracy(), 0.02)
      << correct << " of " << answered
      << " answers correct; the job's evaluation: " << job.test_accuracy() << " at epoch "
      << job.epoch();
  Cancel(id);
}

TEST_F(ModelServingTest, TwoJobsServeTwoModelsAndEveryAnswerComesFromTheModelNamed) {
  StartWorker("dc-1");
  StartWorker("dc-2");
  const std::string a = Submit(ServingJob(1, 1, 100000, "    model: model-a\n"));
  const std::string b = Submit(ServingJob(1, 1, 100000, "    model: model-b\n"));
  for (const char* model : {"model-a", "model-b"}) {
    const auto status = WaitForModel(model, absl::Minutes(2),
                                     [](const auto& m) { return m.serving_version() >= 0; });
    ASSERT_GE(status.serving_version(), 0) << model << " never served";
  }
  const std::string member_a = GetJob(a).members(0);
  const std::string member_b = GetJob(b).members(0);
  ASSERT_NE(member_a, member_b);
  for (int i = 0; i < 100; ++i) {
    const std::string model = i % 2 == 0 ? "model-a" : "model-b";
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer(model, i, &reply);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) continue;
    ASSERT_TRUE(status.ok()) << "request " << i << ": " << status.error_message();
    EXPECT_EQ(reply.model(), model) << "request " << i;
    EXPECT_EQ(reply.node_id(), model == "model-a" ? member_a : member_b) << "request " << i;
  }
  // Two models and no default: a request must name one.
  cosched::v1::InferReply reply;
  const grpc::Status unnamed = Infer("", 0, &reply);
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unnamed.error_message(), HasSubstr("model-a, model-b"));
  const grpc::Status unknown = Infer("model-c", 0, &reply);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND) << unknown.error_message();
  Cancel(a);
  Cancel(b);
}

TEST_F(ModelServingTest, ANodeThatLeftAnswersOnlyOncePromotedAndRollbackUndoesThePromotion) {
  StartWorker("dc-1");
  StartWorker("dc-2");
  WriteVehicleState(VehicleStatePath("v-1"), true);
  StartWorker("v-1", "vehicle");
  const std::string id = Submit(
      ServingJob(2, 3, 100000,
                 "    model: fleet\n    publish_every_steps: 20\n    max_staleness_steps: 40\n"));
  auto job = WaitFor(id, absl::Minutes(2), [](const auto& j) { return j.members_size() == 3; });
  ASSERT_EQ(job.members_size(), 3) << Events(job);
  // The vehicle serves a version, then is unplugged: it may not train, so it leaves the job,
  // but it is parked, so it may still answer, with the version it left with.
  ASSERT_TRUE(WaitUntil([&] { return Node("v-1").served_model() == "fleet"; }));
  Unplug("v-1");
  job = WaitFor(id, absl::Minutes(1), [](const auto& j) { return j.members_size() == 2; });
  ASSERT_EQ(job.members_size(), 2) << Events(job);
  absl::SleepFor(absl::Seconds(1));  // its last heartbeat as a member has passed
  const int64_t left_with = Node("v-1").served_version();
  // Once the members are past the bound, the vehicle's version is too old to answer.
  const auto fresh = WaitForModel("fleet", absl::Minutes(1), [&](const auto& m) {
    return m.serving_version() > left_with + m.max_staleness_steps();
  });
  ASSERT_GT(fresh.serving_version(), left_with + 40);
  for (int i = 0; i < 30; ++i) {
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer("fleet", i, &reply);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) continue;
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_NE(reply.node_id(), "v-1")
        << "a stale node answered with version " << reply.weights_step();
  }
  // Promoted, its version serves: the next answers come from it, and only from it.
  cosched::v1::PromoteModelRequest promote;
  promote.set_model("fleet");
  promote.set_version(left_with);
  const grpc::Status promoted = Promote(promote);
  ASSERT_TRUE(promoted.ok()) << promoted.error_message();
  for (int i = 0; i < 20; ++i) {
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer("fleet", i, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.node_id(), "v-1");
    EXPECT_EQ(reply.weights_step(), left_with);
  }
  // Rollback undoes the promotion: the newest versions, on the members, answer again.
  cosched::v1::PromoteModelRequest rollback;
  rollback.set_model("fleet");
  rollback.set_rollback(true);
  const grpc::Status rolled_back = Promote(rollback);
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.error_message();
  for (int i = 0; i < 20; ++i) {
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer("fleet", i, &reply);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) continue;
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_NE(reply.node_id(), "v-1");
    EXPECT_GT(reply.weights_step(), left_with + 40);
  }
  cosched::v1::PromoteModelRequest missing;
  missing.set_model("fleet");
  missing.set_version(left_with + 7);  // never published (not on the cadence)
  EXPECT_EQ(Promote(missing).error_code(), grpc::StatusCode::NOT_FOUND);
  Cancel(id);
}

// The scheduler loads a version onto an idle node when no node fit to serve holds it: the
// weights come from the node that does (a vehicle that drove off), over both sessions.
TEST_F(ModelServingTest, APromotedVersionNoFitNodeHoldsIsLoadedOntoAnIdleNode) {
  StartWorker("dc-1");  // idle throughout: the job trains on vehicles only
  for (const char* vehicle : {"v-1", "v-2"}) {
    WriteVehicleState(VehicleStatePath(vehicle), true);
    StartWorker(vehicle, "vehicle");
  }
  const std::string id = Submit(absl::StrCat(
      ServingJob(1, 2, 100000,
                 "    model: cars\n    publish_every_steps: 20\n    max_staleness_steps: 40\n"),
      "  scheduling:\n    kind: vehicle\n"));
  auto job = WaitFor(id, absl::Minutes(2), [](const auto& j) { return j.members_size() == 2; });
  ASSERT_EQ(job.members_size(), 2) << Events(job);
  ASSERT_TRUE(WaitUntil([&] { return Node("v-1").served_model() == "cars"; }));
  // v-1 is unplugged (it leaves the job, parked, keeping its version) and that version is
  // promoted; then it drives off, so nobody fit to serve holds it.
  Unplug("v-1");
  job = WaitFor(id, absl::Minutes(1), [](const auto& j) { return j.members_size() == 1; });
  ASSERT_EQ(job.members_size(), 1) << Events(job);
  absl::SleepFor(absl::Seconds(1));  // its last heartbeat as a member has passed
  const int64_t left_with = Node("v-1").served_version();
  cosched::v1::PromoteModelRequest promote;
  promote.set_model("cars");
  promote.set_version(left_with);
  const grpc::Status promoted = Promote(promote);
  ASSERT_TRUE(promoted.ok()) << promoted.error_message();
  WriteVehicleState(VehicleStatePath("v-1"), false);  // driving
  // Fetched from v-1, loaded onto dc-1, reported in dc-1's heartbeat.
  ASSERT_TRUE(WaitUntil([&] {
    const cosched::v1::NodeStatus node = Node("dc-1");
    return node.served_model() == "cars" && node.served_version() == left_with;
  })) << "dc-1 serves "
      << Node("dc-1").served_model() << " version " << Node("dc-1").served_version();
  for (int i = 0; i < 20; ++i) {
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer("cars", i, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.node_id(), "dc-1");
    EXPECT_EQ(reply.weights_step(), left_with);
  }
  Cancel(id);
}

// A checkpoint file is a version too: the one a finished job wrote, published with coschedctl
// under a model of its own, is loaded onto an idle node and answers every test image as the
// job's evaluation of those weights did.
TEST_F(ModelServingTest, ACheckpointPublishedWithCoschedctlServesAsTheJobEvaluatedIt) {
  StartWorker("dc-1");
  StartWorker("dc-2");
  // In scheduler mode a worker checkpoints each job in a folder of its own, which the job's
  // status names.
  const std::string id = Submit(TestJob(1, 1, 400));
  const auto job =
      WaitFor(id, absl::Minutes(3), [](const auto& j) { return j.state() == "succeeded"; });
  ASSERT_EQ(job.state(), "succeeded") << Events(job);
  ASSERT_GT(job.test_accuracy(), 0.5);
  const std::string file = absl::StrCat(job.checkpoint_dir(), "/ckpt-000000000400.bin");
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  const auto coschedctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {COSCHEDCTL_BINARY, "--scheduler", address_});
    const std::vector<std::string> tls_args = ClientTlsArgs();
    args.insert(args.begin() + 3, tls_args.begin(), tls_args.end());
    return testing::RunCommand(args);
  };

  // A file that is no checkpoint is refused, named; nothing is published.
  const std::string junk = absl::StrCat(dir_, "/junk.bin");
  std::ofstream(junk) << "not a checkpoint";
  const auto refused = coschedctl({"publish", "imported", "--checkpoint", junk});
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr(junk));
  {
    grpc::ClientContext context;
    cosched::v1::ListModelsRequest request;
    request.set_model("imported");
    cosched::v1::ListModelsReply reply;
    EXPECT_EQ(stub_->ListModels(&context, request, &reply).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << "a refused file declared the model";
  }

  const auto published = coschedctl({"publish", "imported", "--checkpoint", file, "--test-accuracy",
                                     absl::StrCat(job.test_accuracy())});
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_THAT(*published, HasSubstr("as model imported version 400; serving: 400"));
  const auto again = coschedctl({"publish", "imported", "--checkpoint", file});
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("already has version 400"));

  // No node held it: the scheduler loads it onto the idle worker, not onto the job's last
  // member, which holds the job's own model.
  ASSERT_TRUE(WaitUntil([&] {
    return Node("dc-1").served_model() == "imported" || Node("dc-2").served_model() == "imported";
  }));
  const std::string holder = Node("dc-1").served_model() == "imported" ? "dc-1" : "dc-2";
  EXPECT_EQ(Node(holder).served_version(), 400);
  EXPECT_EQ(Node(holder == "dc-1" ? "dc-2" : "dc-1").served_model(), "test-short");

  // Every test image, 100 to a request, scored as the job's evaluation was.
  int correct = 0;
  for (size_t first = 0; first < test_.size(); first += 100) {
    cosched::v1::InferRequest request;
    for (size_t i = first; i < first + 100; ++i) request.add_images(Image(static_cast<int>(i)));
    request.set_deadline_ms(5000);
    request.set_model("imported");
    cosched::v1::InferReply reply;
    grpc::ClientContext context;
    const grpc::Status status = stub_->Infer(&context, request, &reply);
    ASSERT_TRUE(status.ok()) << "images " << first << "+: " << status.error_message();
    EXPECT_EQ(reply.model(), "imported");
    EXPECT_EQ(reply.weights_step(), 400);
    EXPECT_EQ(reply.node_id(), holder);
    // As old as the checkpoint file, written moments ago (not since the epoch).
    EXPECT_GE(reply.version_age_seconds(), 0);
    EXPECT_LT(reply.version_age_seconds(), 600);
    ASSERT_EQ(reply.classes_size(), 100);
    for (int k = 0; k < 100; ++k) correct += reply.classes(k) == test_.labels[first + k];
  }
  EXPECT_NEAR(static_cast<double>(correct) / static_cast<double>(test_.size()), job.test_accuracy(),
              0.001)
      << correct << " of " << test_.size() << " correct";

  const auto described = coschedctl({"describe", "model", "imported"});
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_THAT(*described, HasSubstr(file));
  EXPECT_THAT(*described, HasSubstr("checkpoints only"));
}

}  // namespace
}  // namespace cosched
