// cosched-worker --standalone as real processes over the file bootstrap
// (configs/jobs/test-short.yaml): a rank killed with SIGKILL mid-training and the survivors
// finishing at the smaller world; /metrics moving while training runs; gRPC inference served
// by a training rank (answers, admission refusals, malformed requests); a bad job file
// rejected with an error naming the file, the line and the field.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "proto/inference.grpc.pb.h"
#include "tests/support/http_get.h"
#include "tests/support/scoped_dir.h"
#include "worker/data/idx_reader.h"

namespace cosched {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kJobSteps = 400;  // training.steps in test-short.yaml
// For tests that need training to keep running while they look at it; they stop the ranks.
constexpr char kEndlessSteps[] = "1000000";

using testing::ScopedDir;

// The step of a human progress line ("epoch 0  step     50  loss ..."), if it is one.
std::optional<int64_t> ProgressStep(const std::string& line) {
  long long epoch = 0, step = 0;
  if (std::sscanf(line.c_str(), "epoch %lld step %lld", &epoch, &step) == 2) return step;
  return std::nullopt;
}

// One cosched-worker process; keeps every stdout line it has read.
class Worker {
 public:
  // Starts rank `rank` of `world` over the file store in `dir`, plus `extra` flags.
  static absl::StatusOr<std::unique_ptr<Worker>> Start(const std::string& dir, int rank, int world,
                                                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {COSCHED_WORKER_BINARY,
                                     "--standalone",
                                     "--job",
                                     COSCHED_TEST_JOB,
                                     "--bootstrap",
                                     "file:" + dir,
                                     "--rank",
                                     std::to_string(rank),
                                     "--world",
                                     std::to_string(world),
                                     "--inference-address",
                                     "127.0.0.1:0",
                                     "--log-level",
                                     "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process = Subprocess::Spawn(argv);
    if (!process.ok()) return process.status();
    return std::unique_ptr<Worker>(new Worker(rank, *std::move(process)));
  }

  Subprocess& process() { return *process_; }
  const std::vector<std::string>& lines() const { return lines_; }

  // Reads lines until `accept` returns true for one and returns that line.
  template <typename Predicate>
  absl::StatusOr<std::string> AwaitLine(const std::string& what, absl::Time deadline,
                                        Predicate accept) {
    while (true) {
      auto line = process_->ReadLine(deadline);
      if (!line.ok()) {
        return absl::Status(
            line.status().code(),
            absl::StrCat("rank ", rank_, " waiting for ", what, ": ", line.status().message(),
                         "; its output so far:\n", absl::StrJoin(lines_, "\n")));
      }
      lines_.push_back(*line);
      if (accept(*line)) return *line;
    }
  }

  // The next JSON line whose "event" is `event`.
  absl::StatusOr<json> AwaitEvent(const std::string& event, absl::Time deadline) {
    json found;
    auto line = AwaitLine("event '" + event + "'", deadline, [&](const std::string& l) {
      json parsed = json::parse(l, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_object() || parsed.value("event", "") != event) return false;
      found = std::move(parsed);
      return true;
    });
    if (!line.ok()) return line.status();
    return found;
  }

  // The step of the next progress line (rank 0 only) that reports at least `min_step`.
  absl::StatusOr<int64_t> AwaitProgress(int64_t min_step, absl::Time deadline) {
    auto line = AwaitLine(absl::StrCat("a progress line at step >= ", min_step), deadline,
                          [&](const std::string& l) {
                            const std::optional<int64_t> step = ProgressStep(l);
                            return step.has_value() && *step >= min_step;
                          });
    if (!line.ok()) return line.status();
    return *ProgressStep(*line);
  }

  // Kills the process (it trains until stopped) and reaps it.
  void Stop() {
    process_->Kill(SIGKILL);
    auto code = process_->Wait(absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(code.ok()) << code.status();
  }

 private:
  Worker(int rank, std::unique_ptr<Subprocess> process)
      : rank_(rank), process_(std::move(process)) {}

  const int rank_;
  std::unique_ptr<Subprocess> process_;
  std::vector<std::string> lines_;
};

// Stops ranks that train until stopped. Freezing them all first keeps the ones killed last
// from logging their peers' deaths.
void StopAll(std::vector<std::unique_ptr<Worker>>& ranks) {
  for (auto& rank : ranks) rank->process().Kill(SIGSTOP);
  for (auto& rank : ranks) rank->Stop();
}

std::vector<std::unique_ptr<Worker>> StartRanks(const std::string& dir, int world,
                                                const std::vector<std::string>& extra = {}) {
  std::vector<std::unique_ptr<Worker>> ranks;
  for (int rank = 0; rank < world; ++rank) {
    auto worker = Worker::Start(dir, rank, world, extra);
    EXPECT_TRUE(worker.ok()) << worker.status();
    if (!worker.ok()) return {};
    ranks.push_back(*std::move(worker));
  }
  return ranks;
}

TEST(WorkerProcessTest, ThreeRanksLoseOneAndFinishAtTwo) {
  const ScopedDir dir("lose_one");
  std::vector<std::unique_ptr<Worker>> ranks = StartRanks(dir.path(), 3);
  ASSERT_EQ(ranks.size(), 3u);
  const absl::Time start_deadline = absl::Now() + absl::Seconds(60);
  for (auto& rank : ranks) {
    auto ready = rank->AwaitEvent("inference_ready", start_deadline);
    ASSERT_TRUE(ready.ok()) << ready.status();
  }
  // Training runs at three ranks.
  auto first = ranks[0]->AwaitLine("a progress line", start_deadline, [](const std::string& l) {
    return ProgressStep(l).has_value();
  });
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(*first, HasSubstr("(gen 0, 3 ranks)"));

  // Freeze rank 2 first: its peers then block in that step's allreduce, so the kill -9 lands
  // mid-training however fast the job runs.
  ranks[2]->process().Kill(SIGSTOP);
  const absl::Time killed_at = absl::Now();
  ranks[2]->process().Kill(SIGKILL);
  auto killed = ranks[2]->process().Wait(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(*killed, 128 + SIGKILL);

  // The survivors see at once that rank 2's process is gone (its lock on the file store is
  // released with it), so they do not wait out the settle window, the collective timeout
  // (3 s) plus 1 s, for a key it will never publish.
  auto changed = ranks[0]->AwaitLine(
      "the membership change", absl::Now() + absl::Seconds(60),
      [](const std::string& l) { return absl::StartsWith(l, "membership changed"); });
  ASSERT_TRUE(changed.ok()) << changed.status();
  const absl::Duration to_new_generation = absl::Now() - killed_at;
  std::printf("survivors in generation 1 %s after the kill\n",
              absl::FormatDuration(to_new_generation).c_str());
  EXPECT_LT(to_new_generation, absl::Seconds(3)) << *changed;

  // The survivors agree on generation 1 and finish the job together.
  const absl::Time finish_deadline = absl::Now() + absl::Seconds(120);
  std::vector<json> finished;
  for (int r = 0; r < 2; ++r) {
    auto done = ranks[r]->AwaitEvent(r == 0 ? "job_finished" : "rank_finished", finish_deadline);
    ASSERT_TRUE(done.ok()) << done.status();
    finished.push_back(*done);
  }
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE(absl::StrCat("rank ", r, ": ", finished[r].dump()));
    EXPECT_EQ(finished[r].value("rank", -1), r);
    EXPECT_GE(finished[r].value("generations", 0), 2);
    EXPECT_EQ(finished[r].value("steps", 0), kJobSteps);
    EXPECT_GT(finished[r].value("test_accuracy", 0.0), 0.6);
    auto code = ranks[r]->process().Wait(finish_deadline);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0);
  }
  ASSERT_TRUE(finished[0].contains("parameter_crc32"));
  EXPECT_EQ(finished[0]["parameter_crc32"], finished[1]["parameter_crc32"]);
  EXPECT_EQ(finished[0].value("test_accuracy", 0.0), finished[1].value("test_accuracy", 1.0));

  // Rank 0 told its reader about the new membership.
  std::vector<std::string> membership_lines;
  for (const std::string& line : ranks[0]->lines()) {
    if (absl::StartsWith(line, "membership changed")) membership_lines.push_back(line);
  }
  ASSERT_FALSE(membership_lines.empty()) << absl::StrJoin(ranks[0]->lines(), "\n");
  EXPECT_THAT(membership_lines.back(), HasSubstr("with 2 ranks"));
}

// One scrape of /metrics: every sample by series ("name{labels}") and every family's type.
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
};

absl::StatusOr<Scrape> ScrapeMetrics(int port) {
  auto body = testing::HttpGet(port, "/metrics");
  if (!body.ok()) return body.status();
  Scrape scrape;
  std::istringstream in(*body);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "# TYPE ")) {
      const std::string rest = line.substr(7);
      const size_t space = rest.find(' ');
      scrape.types[rest.substr(0, space)] = rest.substr(space + 1);
    } else if (!line.empty() && line[0] != '#') {
      const size_t space = line.rfind(' ');
      if (space == std::string::npos) continue;
      scrape.samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
  }
  return scrape;
}

double Sample(const Scrape& scrape, const std::string& series) {
  auto it = scrape.samples.find(series);
  EXPECT_NE(it, scrape.samples.end()) << series << " is not exposed";
  return it == scrape.samples.end() ? -1 : it->second;
}

TEST(WorkerProcessTest, MetricsMoveDuringTraining) {
  const ScopedDir dir("metrics");
  auto worker = Worker::Start(dir.path(), 0, 1,
                              {"--metrics-address", "127.0.0.1:0", "--steps", kEndlessSteps});
  ASSERT_TRUE(worker.ok()) << worker.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  auto ready = (*worker)->AwaitEvent("inference_ready", deadline);
  ASSERT_TRUE(ready.ok()) << ready.status();
  const int port = ready->value("metrics_port", 0);
  ASSERT_GT(port, 0) << ready->dump();

  auto progress = (*worker)->AwaitProgress(1, deadline);
  ASSERT_TRUE(progress.ok()) << progress.status();
  auto first = ScrapeMetrics(port);
  ASSERT_TRUE(first.ok()) << first.status();
  const double steps1 = Sample(*first, "cosched_worker_steps_total");
  const double samples1 = Sample(*first, "cosched_worker_samples_total");
  EXPECT_GE(steps1, static_cast<double>(*progress));
  EXPECT_GT(samples1, 0);

  // Some steps later (by the worker's own progress lines, not by the clock).
  auto later = (*worker)->AwaitProgress(static_cast<int64_t>(steps1) + 1, deadline);
  ASSERT_TRUE(later.ok()) << later.status();
  auto second = ScrapeMetrics(port);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(Sample(*second, "cosched_worker_steps_total"), steps1);
  EXPECT_GT(Sample(*second, "cosched_worker_samples_total"), samples1);
  EXPECT_GE(Sample(*second, "cosched_worker_allreduce_seconds_count"), steps1);
  EXPECT_EQ(Sample(*second, "cosched_worker_generation"), 0);
  const std::string training = "cosched_worker_state{state=\"training\"}";
  EXPECT_TRUE(Sample(*first, training) == 1 || Sample(*second, training) == 1);

  // House rules: prefix cosched_, counters end in _total, histograms in base units. The
  // standard process_* families are the only others.
  EXPECT_FALSE(second->types.empty());
  EXPECT_TRUE(second->types.contains("process_cpu_seconds_total"));
  for (const auto& [name, type] : second->types) {
    if (absl::StartsWith(name, "process_")) continue;
    EXPECT_TRUE(absl::StartsWith(name, "cosched_")) << name;
    if (type == "counter") {
      EXPECT_TRUE(absl::EndsWith(name, "_total")) << name;
    }
    if (type == "histogram" || type == "summary") {
      EXPECT_TRUE(absl::EndsWith(name, "_seconds") || absl::EndsWith(name, "_bytes")) << name;
    }
  }
  (*worker)->Stop();
}

// Raw test-set images (bytes, as clients send them) and their labels.
struct TestImages {
  std::vector<std::string> images;
  std::vector<uint8_t> labels;
};

absl::StatusOr<TestImages> LoadTestImages(size_t count) {
  const std::string dir = worker::kFashionMnistDir;
  auto test =
      worker::ReadIdxPair(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
  if (!test.ok()) return test.status();
  TestImages out;
  const size_t pixels = static_cast<size_t>(test->pixels_per_image());
  for (size_t i = 0; i < count && i < test->size(); ++i) {
    std::string bytes(pixels, '\0');
    for (size_t p = 0; p < pixels; ++p) {
      bytes[p] = static_cast<char>(std::lround(test->image(i)[p] * 255.0f));
    }
    out.images.push_back(std::move(bytes));
    out.labels.push_back(test->labels[i]);
  }
  return out;
}

grpc::Status Infer(cosched::v1::Inference::Stub& stub, const std::vector<std::string>& images,
                   uint32_t deadline_ms, cosched::v1::InferReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  cosched::v1::InferRequest request;
  for (const std::string& image : images) request.add_images(image);
  request.set_deadline_ms(deadline_ms);
  return stub.Infer(&context, request, reply);
}

// Checks the shape of a reply to `n` images: one class per image, ten probabilities per
// image summing to 1, the class being the most probable one.
void ExpectWellFormed(const cosched::v1::InferReply& reply, int n) {
  ASSERT_EQ(reply.classes_size(), n);
  ASSERT_EQ(reply.scores_size(), n * 10);
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    int best = 0;
    for (int c = 0; c < 10; ++c) {
      const float score = reply.scores(i * 10 + c);
      EXPECT_GE(score, 0.0f);
      EXPECT_LE(score, 1.0f);
      sum += score;
      if (score > reply.scores(i * 10 + best)) best = c;
    }
    EXPECT_NEAR(sum, 1.0, 1e-3) << "image " << i;
    EXPECT_EQ(reply.classes(i), static_cast<uint32_t>(best)) << "image " << i;
  }
}

TEST(WorkerProcessTest, InferenceDuringTraining) {
  constexpr int kRequests = 50;
  auto data = LoadTestImages(kRequests);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->images.size(), static_cast<size_t>(kRequests));

  const ScopedDir dir("inference");
  std::vector<std::unique_ptr<Worker>> ranks =
      StartRanks(dir.path(), 2, {"--steps", kEndlessSteps});
  ASSERT_EQ(ranks.size(), 2u);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::vector<std::string> addresses;
  for (auto& rank : ranks) {
    auto ready = rank->AwaitEvent("inference_ready", deadline);
    ASSERT_TRUE(ready.ok()) << ready.status();
    addresses.push_back(ready->value("address", ""));
  }
  // Training has progressed well past chance (the first steps improve the model quickly).
  auto progress = ranks[0]->AwaitProgress(200, deadline);
  ASSERT_TRUE(progress.ok()) << progress.status();

  auto channel = grpc::CreateChannel(addresses[0], grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
      << addresses[0];
  auto stub = cosched::v1::Inference::NewStub(channel);

  // Single-image requests, served while training runs.
  int correct = 0, met = 0;
  int64_t last_weights_step = 0;
  for (int i = 0; i < kRequests; ++i) {
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer(*stub, {data->images[i]}, 50, &reply);
    ASSERT_TRUE(status.ok()) << "request " << i << ": " << status.error_message();
    ExpectWellFormed(reply, 1);
    if (reply.classes_size() == 1 && reply.classes(0) == data->labels[i]) ++correct;
    if (reply.deadline_met()) ++met;
    EXPECT_GT(reply.weights_step(), 0) << "request " << i;
    EXPECT_GE(reply.weights_step(), last_weights_step) << "request " << i;
    last_weights_step = reply.weights_step();
  }
  EXPECT_GT(correct, kRequests / 2) << correct << " of " << kRequests << " correct";
  // 50 ms is far above the service time; only a badly overloaded machine misses it, once.
  EXPECT_GE(met, kRequests - 1) << met << " of " << kRequests << " met their deadline";

  // Several images in one request; and rank 1 serves too.
  const std::vector<std::string> batch(data->images.begin(), data->images.begin() + 8);
  {
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer(*stub, batch, 50, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectWellFormed(reply, 8);
    EXPECT_GT(reply.weights_step(), 0);
  }
  {
    auto stub1 = cosched::v1::Inference::NewStub(
        grpc::CreateChannel(addresses[1], grpc::InsecureChannelCredentials()));
    cosched::v1::InferReply reply;
    const grpc::Status status = Infer(*stub1, batch, 50, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectWellFormed(reply, 8);
  }

  // A deadline below the 2 ms preemption bound cannot be met: refused at once, saying why.
  {
    cosched::v1::InferReply reply;
    const absl::Time sent = absl::Now();
    const grpc::Status status = Infer(*stub, {data->images[0]}, 1, &reply);
    const absl::Duration took = absl::Now() - sent;
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("deadline"));
    EXPECT_THAT(status.error_message(), HasSubstr("preemption 2ms"));
    EXPECT_LT(took, absl::Seconds(2));  // not held until some timeout
  }
  // A malformed image is refused, naming the image and its size.
  {
    cosched::v1::InferReply reply;
    const grpc::Status status =
        Infer(*stub, {data->images[0], std::string(100, '\x7f')}, 50, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("image 1"));
    EXPECT_THAT(status.error_message(), HasSubstr("100 bytes"));
    EXPECT_THAT(status.error_message(), HasSubstr("784"));
  }
  StopAll(ranks);
}

// Runs cosched-worker on `yaml` (written to a file) and returns its exit code and its
// stdout + stderr.
struct Outcome {
  int exit_code = -1;
  std::string output;
};

Outcome RunWithJob(const std::string& path, const std::string& yaml) {
  std::ofstream(path) << yaml;
  Outcome outcome;
  // Subprocess captures stdout only; the shell folds stderr (where errors go) into it.
  auto process =
      Subprocess::Spawn({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", COSCHED_WORKER_BINARY,
                         "--standalone", "--job", path, "--log-level", "warn"});
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return outcome;
  // A config error comes before anything else (no data loading, no sockets): quickly.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    auto line = (*process)->ReadLine(deadline);
    if (!line.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(line.status())) << line.status();
      break;
    }
    absl::StrAppend(&outcome.output, *line, "\n");
  }
  auto code = (*process)->Wait(deadline);
  EXPECT_TRUE(code.ok()) << code.status();
  if (code.ok()) outcome.exit_code = *code;
  return outcome;
}

TEST(WorkerProcessTest, BadJobConfigIsAClearError) {
  const ScopedDir dir("bad_config");
  const std::string head =
      "job:\n"
      "  name: bad\n"
      "  training:\n";
  {
    const std::string path = dir.path() + "/negative_batch.yaml";
    const Outcome outcome =
        RunWithJob(path, head + "    micro_batch: 16\n    global_batch: -5\n    steps: 10\n");
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_THAT(outcome.output, HasSubstr(path + ":5: field 'job.training.global_batch'"));
    EXPECT_THAT(outcome.output, HasSubstr("-5 is out of range"));
  }
  {
    const std::string path = dir.path() + "/unknown_field.yaml";
    const Outcome outcome = RunWithJob(path, head + "    steps: 10\n    global_btach: 64\n");
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_THAT(outcome.output, HasSubstr(path + ":5: field 'job.training.global_btach'"));
    EXPECT_THAT(outcome.output, HasSubstr("unknown field"));
  }
}

}  // namespace
}  // namespace cosched
