#include "scheduler/edge/round_aggregator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/edge/compression.h"

namespace cosched::scheduler::edge {
namespace {

using cosched::v1::EdgeContribution;
using cosched::v1::EdgeJoin;
using cosched::v1::EdgeRound;
using cosched::v1::EncodedTensor;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using worker::edge::Compression;

// The nodes of the contributions rejected since the last call.
std::vector<std::string> RejectedNodes(RoundAggregator& aggregator) {
  std::vector<std::string> nodes;
  for (const auto& rejected : aggregator.TakeRejected()) nodes.push_back(rejected.node);
  return nodes;
}

constexpr size_t kParams = 1000;
constexpr uint64_t kSamples = 1000;
const absl::Time kT0 = absl::FromUnixSeconds(1000);

JobConfig EdgeJob(const std::string& compression) {
  JobConfig job;
  job.name = "edge-test";
  job.seed = 42;
  job.epochs = 100;
  job.edge.enabled = true;
  job.edge.local_steps = 2;
  job.edge.compression = compression;
  job.edge.outer_learning_rate = 1;
  job.edge.outer_momentum = 0;
  job.edge.over_select = 0;
  return job;
}

std::unique_ptr<RoundAggregator> MakeAggregator(const JobConfig& job, uint64_t samples = kSamples) {
  absl::StatusOr<std::unique_ptr<RoundAggregator>> aggregator =
      RoundAggregator::Create(job, samples);
  EXPECT_TRUE(aggregator.ok()) << aggregator.status();
  return std::move(aggregator).value();
}

std::vector<float> RandomVector(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = value(rng);
  return v;
}

EncodedTensor Encode(Compression codec, const std::vector<float>& values) {
  EncodedTensor tensor;
  tensor.set_codec(worker::edge::CompressionName(codec));
  tensor.set_count(values.size());
  tensor.set_data(worker::edge::Compress(codec, values));
  return tensor;
}

std::vector<float> Decode(const EncodedTensor& tensor) {
  absl::StatusOr<Compression> codec = worker::edge::ParseCompression(tensor.codec());
  EXPECT_TRUE(codec.ok()) << codec.status();
  std::vector<float> values(tensor.count());
  absl::Status status =
      worker::edge::Decompress(*codec, tensor.data(), absl::MakeSpan(values), "test");
  EXPECT_TRUE(status.ok()) << status;
  return values;
}

EdgeJoin Join(const std::string& replica, int64_t batch = 10, double seconds_per_sample = 0,
              double link_mbps = 0, const std::string& node = "") {
  EdgeJoin join;
  join.set_job_id("job-1");
  join.set_replica(replica);
  join.set_node_id(node.empty() ? replica : node);
  join.set_batch(batch);
  join.set_seconds_per_sample(seconds_per_sample);
  join.set_link_mbps(link_mbps);
  join.set_dataset_samples(kSamples);
  return join;
}

EdgeJoin Seed(EdgeJoin join, const std::vector<float>& parameters) {
  *join.mutable_parameters() = Encode(Compression::kNone, parameters);
  return join;
}

EdgeContribution Contribution(const std::string& replica, int64_t round, Compression codec,
                              const std::vector<float>& pseudo_gradient,
                              std::vector<uint32_t> unfinished = {}, double train_seconds = 0,
                              const std::string& node = "") {
  EdgeContribution c;
  c.set_job_id("job-1");
  c.set_replica(replica);
  c.set_node_id(node.empty() ? replica : node);
  c.set_round(round);
  for (uint32_t p : unfinished) c.add_unfinished(p);
  c.set_train_seconds(train_seconds);
  c.set_test_accuracy(-1);
  *c.mutable_pseudo_gradient() = Encode(codec, pseudo_gradient);
  return c;
}

std::vector<uint32_t> Samples(const EdgeRound& offer) {
  return {offer.samples().begin(), offer.samples().end()};
}

// What a replica holds: it replaces its parameters with a full offer, adds a delta.
void Apply(const EdgeRound& offer, std::vector<float>& params) {
  std::vector<float> decoded = Decode(offer.parameters());
  if (!offer.delta()) {
    params = decoded;
    return;
  }
  ASSERT_EQ(decoded.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) params[i] += decoded[i];
}

bool HasEvent(const std::vector<std::string>& events, const std::string& part) {
  return std::any_of(events.begin(), events.end(),
                     [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

TEST(RoundAggregatorTest, AsksForParametersUntilSeededAndSeedingOpensRoundZero) {
  auto aggregator = MakeAggregator(EdgeJob("int8"));
  absl::StatusOr<EdgeRound> first = aggregator->Join(Join("car-1"), kT0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->need_parameters());
  EXPECT_EQ(first->samples_size(), 0);
  EXPECT_FALSE(aggregator->MaybeClose(kT0 + absl::Hours(1)));

  const std::vector<float> seed = RandomVector(kParams, 1, 0.5f);
  absl::StatusOr<EdgeRound> seeded = aggregator->Join(Seed(Join("car-2"), seed), kT0);
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  EXPECT_FALSE(seeded->need_parameters());
  EXPECT_EQ(seeded->round(), 0);
  EXPECT_EQ(aggregator->round(), 0);
  EXPECT_FALSE(seeded->delta());
  EXPECT_EQ(seeded->parameters().codec(), "int8");
  EXPECT_EQ(seeded->parameters().count(), kParams);
  EXPECT_EQ(seeded->inner_steps(), 2);
  EXPECT_EQ(seeded->samples_size(), 20);
  EXPECT_GT(seeded->send_within_seconds(), 0);
  EXPECT_EQ(aggregator->held_parameters(Compression::kInt8), seed);
  EXPECT_EQ(aggregator->global_parameters(), seed);
  // Auto deadline: two replicas of unknown rate, 2 steps at 1 s each: 1.5 * 2 s + 2 s.
  EXPECT_EQ(aggregator->deadline(), kT0 + absl::Seconds(5));

  // The replica that was asked for parameters was invited by the open; its second seed is
  // ignored and it gets the current offer.
  absl::StatusOr<EdgeRound> again =
      aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 2, 1)), kT0);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->need_parameters());
  EXPECT_EQ(again->samples_size(), 20);
  EXPECT_EQ(aggregator->held_parameters(Compression::kInt8), seed);
  std::set<uint32_t> all(seeded->samples().begin(), seeded->samples().end());
  all.insert(again->samples().begin(), again->samples().end());
  EXPECT_EQ(all.size(), 40u);
}

// Codec none, outer learning rate 1, no momentum: the new global parameters are the start
// minus the sample-weighted mean of the pseudo-gradients, and the delta brings a replica there.
TEST(RoundAggregatorTest, PlainRoundAveragesByTrainedSamplesAndSendsTheDelta) {
  auto aggregator = MakeAggregator(EdgeJob("none"));
  const std::vector<float> start = RandomVector(kParams, 1, 0.5f);
  EdgeRound a = *aggregator->Join(Seed(Join("car-1"), start), kT0);
  EdgeRound b = *aggregator->Join(Join("car-2"), kT0);
  EXPECT_EQ(Decode(a.parameters()), start);
  EXPECT_EQ(Decode(b.parameters()), start);
  ASSERT_EQ(b.samples_size(), 20);

  const std::vector<float> ga = RandomVector(kParams, 2, 0.01f);
  const std::vector<float> gb = RandomVector(kParams, 3, 0.01f);
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kNone, ga), kT0).ok());
  EXPECT_FALSE(aggregator->MaybeClose(kT0 + absl::Seconds(1)));
  ASSERT_TRUE(aggregator
                  ->Contribute(Contribution("car-2", 0, Compression::kNone, gb, {0, 1, 2, 3, 4}),
                               kT0 + absl::Seconds(1))
                  .ok());
  EXPECT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(1)));
  EXPECT_EQ(aggregator->round(), 1);
  EXPECT_EQ(aggregator->outer_steps(), 1);
  EXPECT_EQ(aggregator->counters().rounds, 1);
  EXPECT_EQ(aggregator->counters().contributions.at("accepted"), 2);

  std::vector<float> expected(kParams);
  for (size_t i = 0; i < kParams; ++i) {
    double sum = 0;
    sum += 20.0 * ga[i];
    sum += 15.0 * gb[i];
    expected[i] = start[i] - static_cast<float>(sum / 35.0);
  }
  EXPECT_EQ(aggregator->global_parameters(), expected);
  EXPECT_EQ(aggregator->held_parameters(Compression::kNone), expected);

  for (const std::string replica : {"car-1", "car-2"}) {
    absl::StatusOr<EdgeRound> next = aggregator->NextRound(replica, 0, kT0 + absl::Seconds(1));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_TRUE(next->delta());
    EXPECT_EQ(next->round(), 1);
    EXPECT_EQ(next->outer_step(), 1);
    std::vector<float> params = start;
    Apply(*next, params);
    EXPECT_EQ(params, aggregator->held_parameters(Compression::kNone)) << replica;
  }
  // car-2's five unfinished samples are dealt again, first.
  std::vector<uint32_t> back(b.samples().begin(), b.samples().begin() + 5);
  EdgeRound again = *aggregator->NextRound("car-1", 0, kT0 + absl::Seconds(1));
  EXPECT_FALSE(again.delta());  // asked twice: it holds round 1 now
  std::vector<uint32_t> first_five(again.samples().begin(), again.samples().begin() + 5);
  EXPECT_EQ(first_five, back);
  EXPECT_THAT(aggregator->TakeEvents(), Contains(HasSubstr("round 0 closed: 2 accepted")));
}

// int8 both ways with Nesterov momentum: a replica that applies every delta holds exactly the
// aggregator's `held` parameters, and what compression lost goes out in the next change.
TEST(RoundAggregatorTest, Int8DeltasReproduceHeldAndCarryTheError) {
  JobConfig job = EdgeJob("int8");
  job.edge.outer_learning_rate = 0.7;
  job.edge.outer_momentum = 0.9;
  auto aggregator = MakeAggregator(job);
  const std::vector<float> start = RandomVector(kParams, 1, 0.5f);
  std::map<std::string, std::vector<float>> replica_params;
  EdgeRound a = *aggregator->Join(Seed(Join("car-1"), start), kT0);
  EdgeRound b = *aggregator->Join(Join("car-2"), kT0);
  Apply(a, replica_params["car-1"]);
  Apply(b, replica_params["car-2"]);
  // A full offer is compressed: what each replica holds differs from `held` by that error, and
  // applying deltas keeps exactly that difference (the replica-side simulation of `held`).
  std::vector<float> held = start;
  absl::Time now = kT0;
  for (int64_t round = 0; round < 4; ++round) {
    for (const std::string replica : {"car-1", "car-2"}) {
      const std::vector<float> g = RandomVector(kParams, static_cast<uint32_t>(10 + round), 0.02f);
      ASSERT_TRUE(
          aggregator->Contribute(Contribution(replica, round, Compression::kInt8, g), now).ok());
    }
    ASSERT_TRUE(aggregator->MaybeClose(now));
    double largest_change = 0;
    for (size_t i = 0; i < kParams; ++i) {
      largest_change = std::max(largest_change,
                                std::abs(static_cast<double>(aggregator->global_parameters()[i]) -
                                         static_cast<double>(held[i])));
    }
    for (const std::string replica : {"car-1", "car-2"}) {
      EdgeRound next = *aggregator->NextRound(replica, round, now);
      ASSERT_TRUE(next.delta()) << replica << " round " << round;
      EXPECT_EQ(next.parameters().codec(), "int8");
      EXPECT_EQ(next.parameters().data().size(),
                worker::edge::CompressedBytes(Compression::kInt8, kParams));
      Apply(next, replica_params[replica]);
      if (replica == "car-1") Apply(next, held);
    }
    EXPECT_EQ(held, aggregator->held_parameters(Compression::kInt8)) << "round " << round;
    // Error feedback: global - held is only what the last change's compression lost.
    double residual = 0;
    for (size_t i = 0; i < kParams; ++i) {
      residual = std::max(
          residual, std::abs(static_cast<double>(aggregator->global_parameters()[i] - held[i])));
    }
    EXPECT_GT(largest_change, 0);
    EXPECT_LE(residual, largest_change / 254 * 1.01 + 1e-7) << "round " << round;
    now += absl::Seconds(1);
  }
  // The replicas' distance from `held` is still only the compression of their full offer.
  const std::vector<float> full_error_base = Decode(Encode(Compression::kInt8, start));
  for (size_t i = 0; i < kParams; ++i) {
    EXPECT_NEAR(replica_params["car-1"][i] - held[i], full_error_base[i] - start[i], 1e-5);
  }
}

// Compression auto: each replica's codec follows its link (link_codec.h), each codec's
// replicas hold that codec's copy of the parameters, and the data-center replica's rounds are
// exact.
TEST(RoundAggregatorTest, AutoCompressionPicksEachReplicasCodecByItsLink) {
  JobConfig job = EdgeJob("auto");
  auto aggregator = MakeAggregator(job);
  const std::vector<float> start = RandomVector(kParams, 1, 0.5f);
  std::map<std::string, EdgeRound> offers;
  offers["datacenter"] =
      *aggregator->Join(Seed(Join("datacenter", 10, 0, 10000, "dc-0"), start), kT0);
  offers["car-depot"] = *aggregator->Join(Join("car-depot", 10, 0, 200), kT0);
  offers["car-home"] = *aggregator->Join(Join("car-home", 10, 0, 20), kT0);
  offers["car-quiet"] = *aggregator->Join(Join("car-quiet", 10, 0, 0), kT0);
  const std::map<std::string, Compression> expected = {{"datacenter", Compression::kNone},
                                                       {"car-depot", Compression::kFp16},
                                                       {"car-home", Compression::kInt8},
                                                       {"car-quiet", Compression::kInt8}};
  for (const auto& [id, codec] : expected) {
    EXPECT_EQ(offers[id].codec(), worker::edge::CompressionName(codec)) << id;
    EXPECT_EQ(offers[id].parameters().codec(), worker::edge::CompressionName(codec)) << id;
  }
  EXPECT_EQ(Decode(offers["datacenter"].parameters()), start);  // exact

  // A contribution in another codec than the replica's is refused as undecodable.
  const std::vector<float> g = RandomVector(kParams, 7, 0.01f);
  for (const auto& [id, codec] : expected) {
    EdgeContribution c = Contribution(id, 0, id == "car-quiet" ? Compression::kFp16 : codec, g);
    if (id == "datacenter") c.set_node_id("dc-0");
    ASSERT_TRUE(aggregator->Contribute(c, kT0).ok()) << id;
  }
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  EXPECT_EQ(aggregator->counters().contributions.at("accepted"), 3);
  EXPECT_EQ(aggregator->counters().contributions.at("rejected:undecodable"), 1);
  EXPECT_THAT(
      aggregator->TakeEvents(),
      AllOf(Contains(HasSubstr("car-home's tensors travel in int8 (link 20 Mbit/s)")),
            Contains(HasSubstr("car-depot's tensors travel in fp16 (link 200 Mbit/s)")),
            Contains(HasSubstr("pseudo_gradient.codec is 'fp16'; the replica's is 'int8'"))));

  // Every codec's replicas apply their change and hold that codec's copy; the uncompressed
  // one is the global parameters themselves, the compressed ones differ from them by at
  // most what their last change's compression lost.
  for (const auto& [id, codec] : expected) {
    if (id == "car-quiet") continue;  // rejected: sent everything again
    EdgeRound next = *aggregator->NextRound(id, 0, kT0);
    ASSERT_TRUE(next.delta()) << id;
    EXPECT_EQ(next.codec(), worker::edge::CompressionName(codec));
    std::vector<float> params;
    Apply(offers[id], params);
    Apply(next, params);
    if (codec == Compression::kNone) {  // as exact as float addition of the change
      for (size_t i = 0; i < kParams; ++i) {
        ASSERT_NEAR(params[i], aggregator->global_parameters()[i], 1e-6) << "value " << i;
      }
    }
    // The replica's copy is its codec's `held` plus the error of its full first offer.
    const std::vector<float> first_offer = Decode(offers[id].parameters());
    const std::vector<float>& held = aggregator->held_parameters(codec);
    ASSERT_EQ(held.size(), kParams) << id;
    for (size_t i = 0; i < kParams; ++i) {
      ASSERT_NEAR(params[i] - held[i], first_offer[i] - start[i], 1e-5) << id << " value " << i;
    }
  }
  EXPECT_NE(aggregator->held_parameters(Compression::kInt8), aggregator->global_parameters());

  // When the last fp16 replica leaves, its copy goes at the next close; it comes back with a
  // full offer when one joins again.
  aggregator->ReplicaLeft("car-depot");
  for (const std::string id : {"datacenter", "car-home", "car-quiet"}) {
    EdgeContribution c = Contribution(id, 1, expected.at(id), g);
    if (id == "datacenter") c.set_node_id("dc-0");
    ASSERT_TRUE(aggregator->Contribute(c, kT0).ok()) << id;
  }
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  EXPECT_TRUE(aggregator->held_parameters(Compression::kFp16).empty());
  EdgeRound back = *aggregator->Join(Join("car-depot", 10, 0, 200), kT0);
  EXPECT_FALSE(back.delta());
  EXPECT_EQ(back.codec(), "fp16");
  EXPECT_EQ(aggregator->held_parameters(Compression::kFp16), aggregator->global_parameters());
}

TEST(RoundAggregatorTest, LateReplicaMissesTheRoundAndItsSamplesAreDealtAgain) {
  auto aggregator = MakeAggregator(EdgeJob("int8"));
  const std::vector<float> start = RandomVector(kParams, 1, 0.5f);
  ASSERT_TRUE(aggregator->Join(Seed(Join("car-1"), start), kT0).ok());
  ASSERT_TRUE(aggregator->Join(Join("car-2"), kT0).ok());
  EdgeRound late = *aggregator->Join(Join("car-3"), kT0);
  ASSERT_EQ(late.samples_size(), 20);
  const absl::Time deadline = aggregator->deadline();
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kInt8, g), kT0).ok());
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-2", 0, Compression::kInt8, g), kT0).ok());
  EXPECT_FALSE(aggregator->MaybeClose(deadline - absl::Milliseconds(1)));
  EXPECT_TRUE(aggregator->MaybeClose(deadline));
  EXPECT_EQ(aggregator->counters().contributions.at("late"), 1);
  EXPECT_EQ(aggregator->counters().contributions.at("accepted"), 2);
  EXPECT_EQ(aggregator->outer_steps(), 1);
  const std::vector<std::string> events = aggregator->TakeEvents();
  EXPECT_THAT(events, Contains(HasSubstr("round 0 closed: 2 accepted (car-1, car-2), car-3 late")));

  absl::Status too_late =
      aggregator->Contribute(Contribution("car-3", 0, Compression::kInt8, g), deadline);
  EXPECT_EQ(too_late.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(too_late.message(), HasSubstr("car-3"));
  EXPECT_THAT(too_late.message(), HasSubstr("round 0"));
  EXPECT_EQ(aggregator->counters().contributions.at("late"), 1);  // counted once

  std::set<uint32_t> dealt;
  std::map<std::string, EdgeRound> next;
  for (const std::string replica : {"car-1", "car-2", "car-3"}) {
    next[replica] = *aggregator->NextRound(replica, 0, deadline);
    EXPECT_EQ(next[replica].delta(), replica != "car-3") << replica;
    EXPECT_EQ(next[replica].round(), 1);
    dealt.insert(next[replica].samples().begin(), next[replica].samples().end());
  }
  for (uint32_t sample : late.samples()) EXPECT_EQ(dealt.count(sample), 1u) << sample;
  // Told it was late, the replica may also join again: all the parameters, and what it was
  // dealt for the open round comes back to it.
  EdgeRound rejoined = *aggregator->Join(Join("car-3"), deadline);
  EXPECT_EQ(rejoined.round(), 1);
  EXPECT_FALSE(rejoined.delta());
  EXPECT_EQ(Samples(rejoined), Samples(next["car-3"]));
}

std::unique_ptr<RoundAggregator> FiveCars(absl::Duration deadline) {
  JobConfig job = EdgeJob("none");
  job.edge.over_select = 0.25;
  job.edge.round_deadline = deadline;
  auto aggregator = MakeAggregator(job);
  EXPECT_TRUE(aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 0.5f)), kT0).ok());
  for (int i = 2; i <= 5; ++i) {
    EXPECT_TRUE(aggregator->Join(Join(absl::StrCat("car-", i)), kT0).ok());
  }
  return aggregator;
}

TEST(RoundAggregatorTest, OverSelectionClosesAfterTheGracePeriodOrAtOnceWhenAllAreIn) {
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  {
    auto aggregator = FiveCars(absl::Seconds(100));  // grace: 10 s
    const absl::Time quorum_at = kT0 + absl::Seconds(30);
    for (int i = 1; i <= 4; ++i) {
      ASSERT_TRUE(aggregator
                      ->Contribute(Contribution(absl::StrCat("car-", i), 0, Compression::kNone, g),
                                   quorum_at)
                      .ok());
      EXPECT_FALSE(aggregator->MaybeClose(quorum_at));
    }
    EXPECT_FALSE(aggregator->MaybeClose(quorum_at + absl::Seconds(9)));
    EXPECT_TRUE(aggregator->MaybeClose(quorum_at + absl::Seconds(10)));
    EXPECT_EQ(aggregator->counters().contributions.at("accepted"), 4);
    EXPECT_EQ(aggregator->counters().contributions.at("late"), 1);
  }
  {
    auto aggregator = FiveCars(absl::Seconds(100));
    const absl::Time quorum_at = kT0 + absl::Seconds(30);
    for (int i = 1; i <= 4; ++i) {
      ASSERT_TRUE(aggregator
                      ->Contribute(Contribution(absl::StrCat("car-", i), 0, Compression::kNone, g),
                                   quorum_at)
                      .ok());
    }
    EXPECT_FALSE(aggregator->MaybeClose(quorum_at + absl::Seconds(5)));
    ASSERT_TRUE(aggregator
                    ->Contribute(Contribution("car-5", 0, Compression::kNone, g),
                                 quorum_at + absl::Seconds(6))
                    .ok());
    EXPECT_TRUE(aggregator->MaybeClose(quorum_at + absl::Seconds(6)));
    EXPECT_EQ(aggregator->counters().contributions.at("accepted"), 5);
    EXPECT_EQ(aggregator->counters().contributions.count("late"), 0u);
  }
}

TEST(RoundAggregatorTest, PoisonedContributionsAreRejectedAndTheRoundGoesOn) {
  auto aggregator = FiveCars(absl::Seconds(100));
  std::map<std::string, EdgeRound> offers;
  for (int i = 1; i <= 5; ++i) {
    const std::string id = absl::StrCat("car-", i);
    offers[id] = *aggregator->Join(Join(id), kT0);  // joining again: the same start
  }
  const std::vector<float> start = aggregator->held_parameters(Compression::kNone);
  std::vector<float> poisoned_nan = RandomVector(kParams, 4, 0.01f);
  poisoned_nan[17] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> poisoned_big = RandomVector(kParams, 5, 0.01f);
  for (float& v : poisoned_big) v *= 1e6f;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(
        aggregator
            ->Contribute(Contribution(absl::StrCat("car-", i), 0, Compression::kNone,
                                      RandomVector(kParams, static_cast<uint32_t>(i), 0.01f)),
                         kT0)
            .ok());
  }
  ASSERT_TRUE(
      aggregator->Contribute(Contribution("car-4", 0, Compression::kNone, poisoned_nan), kT0).ok());
  ASSERT_TRUE(
      aggregator->Contribute(Contribution("car-5", 0, Compression::kNone, poisoned_big), kT0).ok());
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  const AggregatorCounters& counters = aggregator->counters();
  EXPECT_EQ(counters.contributions.at("accepted"), 3);
  EXPECT_EQ(counters.contributions.at("rejected:not_finite"), 1);
  EXPECT_EQ(counters.contributions.at("rejected:norm_outlier"), 1);
  EXPECT_EQ(aggregator->outer_steps(), 1);
  EXPECT_THAT(RejectedNodes(*aggregator), UnorderedElementsAre("car-4", "car-5"));
  EXPECT_TRUE(RejectedNodes(*aggregator).empty());
  const std::vector<std::string> events = aggregator->TakeEvents();
  EXPECT_TRUE(HasEvent(events, "car-4 rejected in round 0: not_finite")) << events.size();
  EXPECT_TRUE(HasEvent(events, "car-5 rejected in round 0: norm_outlier"));
  for (float v : aggregator->global_parameters()) ASSERT_TRUE(std::isfinite(v));
  // The rejected replicas' samples go back and are dealt again.
  std::set<uint32_t> dealt;
  for (int i = 1; i <= 5; ++i) {
    EdgeRound next = *aggregator->NextRound(absl::StrCat("car-", i), 0, kT0);
    EXPECT_EQ(next.delta(), true);  // rejected ones started from `held` too
    dealt.insert(next.samples().begin(), next.samples().end());
  }
  for (const std::string id : {"car-4", "car-5"}) {
    for (uint32_t sample : offers[id].samples()) EXPECT_EQ(dealt.count(sample), 1u);
  }
}

TEST(RoundAggregatorTest, UndecodableAndBadRequestsAreRejectedAtTheClose) {
  auto aggregator = MakeAggregator(EdgeJob("int8"));
  ASSERT_TRUE(aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 0.5f)), kT0).ok());
  ASSERT_TRUE(aggregator->Join(Join("car-2"), kT0).ok());
  ASSERT_TRUE(aggregator->Join(Join("car-3"), kT0).ok());
  ASSERT_TRUE(aggregator->Join(Join("car-4"), kT0).ok());
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kInt8, g), kT0).ok());
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-2", 0, Compression::kFp16, g), kT0).ok());
  EdgeContribution truncated = Contribution("car-3", 0, Compression::kInt8, g);
  truncated.mutable_pseudo_gradient()->mutable_data()->resize(10);
  ASSERT_TRUE(aggregator->Contribute(truncated, kT0).ok());
  ASSERT_TRUE(
      aggregator->Contribute(Contribution("car-4", 0, Compression::kInt8, g, {3, 3}), kT0).ok());
  absl::Status twice = aggregator->Contribute(Contribution("car-4", 0, Compression::kInt8, g), kT0);
  EXPECT_EQ(twice.code(), absl::StatusCode::kAlreadyExists);
  // Everybody has contributed: the round closes at once.
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  const AggregatorCounters& counters = aggregator->counters();
  EXPECT_EQ(counters.contributions.at("accepted"), 1);
  EXPECT_EQ(counters.contributions.at("rejected:undecodable"), 2);
  EXPECT_EQ(counters.contributions.at("rejected:bad_request"), 1);
  EXPECT_THAT(RejectedNodes(*aggregator), UnorderedElementsAre("car-2", "car-3", "car-4"));
  const std::vector<std::string> events = aggregator->TakeEvents();
  EXPECT_TRUE(HasEvent(events, "car-2 rejected in round 0: undecodable (pseudo_gradient.codec"));
  EXPECT_TRUE(HasEvent(events, "car-4 rejected in round 0: bad_request (unfinished position 3"));
}

TEST(RoundAggregatorTest, FasterReplicasTakeMoreStepsUpToSixteenH) {
  JobConfig job = EdgeJob("none");
  auto aggregator = MakeAggregator(job, 2000);
  auto join = [&](EdgeJoin j) {
    j.set_dataset_samples(2000);
    return j;
  };
  // Joined before the seed, so the open deals to all of them with the same reference time.
  ASSERT_TRUE(aggregator->Join(join(Join("car-fast", 10, 0.01)), kT0).ok());
  ASSERT_TRUE(aggregator->Join(join(Join("car-new", 10, 0)), kT0).ok());
  ASSERT_TRUE(aggregator->Join(join(Join("datacenter", 40, 0.001, 0, "dc-0")), kT0).ok());
  EdgeRound slow =
      *aggregator->Join(join(Seed(Join("car-slow", 10, 0.02), RandomVector(kParams, 1, 1))), kT0);
  // T = H * slowest vehicle step = 2 * 10 * 0.02 s = 0.4 s.
  EXPECT_EQ(slow.inner_steps(), 2);
  EXPECT_EQ(slow.samples_size(), 20);
  std::map<std::string, int64_t> steps;
  for (const std::string id : {"car-fast", "car-new", "datacenter"}) {
    EdgeJoin j = join(Join(id, id == "car-fast" || id == "car-new" ? 10 : 40));
    if (id == "datacenter") j.set_node_id("dc-0");
    // Joining again keeps the measured rate when the join says 0 (unknown).
    EdgeRound offer = *aggregator->Join(j, kT0);
    steps[id] = offer.inner_steps();
    EXPECT_EQ(offer.samples_size(), offer.inner_steps() * j.batch()) << id;
  }
  EXPECT_EQ(steps["car-fast"], 4);     // twice as fast: twice the steps
  EXPECT_EQ(steps["car-new"], 2);      // unknown: H
  EXPECT_EQ(steps["datacenter"], 10);  // 0.4 s / (40 * 0.001 s)

  // A measured contribution updates the rate, a slower one at once: car-slow took 0.04 s per
  // sample, so its rate becomes 0.04 s and T 0.8 s in the next round.
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  ASSERT_TRUE(
      aggregator->Contribute(Contribution("car-slow", 0, Compression::kNone, g, {}, 0.8), kT0)
          .ok());
  for (const std::string id : {"car-fast", "car-new", "datacenter"}) {
    EdgeContribution c = Contribution(id, 0, Compression::kNone, g);
    if (id == "datacenter") c.set_node_id("dc-0");
    ASSERT_TRUE(aggregator->Contribute(c, kT0).ok()) << id;
  }
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  EXPECT_EQ(aggregator->NextRound("car-fast", 0, kT0)->inner_steps(), 8);
  EXPECT_EQ(aggregator->NextRound("car-slow", 0, kT0)->inner_steps(), 2);
  EXPECT_EQ(aggregator->NextRound("datacenter", 0, kT0)->inner_steps(), 20);

  // A faster measurement moves the rate halfway: car-slow now takes 0.02 s per sample, its
  // rate becomes 0.03 s and T 0.6 s.
  for (const std::string id : {"car-fast", "car-slow", "car-new", "datacenter"}) {
    EdgeContribution c = Contribution(id, 1, Compression::kNone, g, {}, id == "car-slow" ? 0.4 : 0);
    if (id == "datacenter") c.set_node_id("dc-0");
    ASSERT_TRUE(aggregator->Contribute(c, kT0).ok()) << id;
  }
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  EXPECT_EQ(aggregator->NextRound("car-fast", 1, kT0)->inner_steps(), 6);
  EXPECT_EQ(aggregator->NextRound("datacenter", 1, kT0)->inner_steps(), 15);
}

// A replica sized on too fast a rate is late; its late contribution still tells its time, so
// the next rounds fit it instead of losing it round after round.
TEST(RoundAggregatorTest, ALateContributionStillCorrectsTheReplicasRate) {
  JobConfig job = EdgeJob("none");
  job.edge.round_deadline = absl::Seconds(10);
  auto aggregator = MakeAggregator(job);
  ASSERT_TRUE(
      aggregator->Join(Seed(Join("car-1", 10, 0.01), RandomVector(kParams, 1, 1)), kT0).ok());
  ASSERT_EQ(aggregator->Join(Join("car-2", 10, 0.01), kT0)->inner_steps(), 2);
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kNone, g), kT0).ok());
  ASSERT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(10)));  // car-2 late
  // car-2 took 1 s for its 2 steps of 10 samples: 0.05 s per sample, five times its guess.
  EdgeContribution late = Contribution("car-2", 0, Compression::kNone, g, {}, 1.0);
  late.set_inner_steps(2);
  EXPECT_TRUE(absl::IsAborted(aggregator->Contribute(late, kT0 + absl::Seconds(10))));
  // Round 1 opened with the old rates; at its close the slowest vehicle sets T = 2 steps of
  // car-2 = 1 s, and car-1 (0.1 s a step) gets 10.
  ASSERT_TRUE(aggregator->Join(Join("car-2", 10, 0), kT0 + absl::Seconds(10)).ok());
  for (const std::string id : {"car-1", "car-2"}) {
    ASSERT_TRUE(
        aggregator->Contribute(Contribution(id, 1, Compression::kNone, g), kT0 + absl::Seconds(11))
            .ok())
        << id;
  }
  ASSERT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(11)));
  EXPECT_EQ(aggregator->NextRound("car-1", 1, kT0 + absl::Seconds(11))->inner_steps(), 10);
  EXPECT_EQ(aggregator->NextRound("car-2", 1, kT0 + absl::Seconds(11))->inner_steps(), 2);
}

// A vehicle predicted to leave gets the steps it can train before it goes (1.5 x its time
// per step, as for a mid-round joiner), and none when not one fits; its samples go to others.
TEST(RoundAggregatorTest, AVehicleDepartingSoonGetsOnlyTheStepsThatFitBeforeIt) {
  auto aggregator = MakeAggregator(EdgeJob("none"));
  // A step takes 10 * 0.01 s = 0.1 s, 0.15 s with the margin; H = 2.
  const absl::Time one_step_fits = kT0 + absl::Milliseconds(200);
  const absl::Time none_fits = kT0 + absl::Milliseconds(100);
  ASSERT_TRUE(aggregator->Join(Join("car-a", 10, 0.01), kT0, one_step_fits).ok());
  ASSERT_TRUE(aggregator->Join(Join("car-b", 10, 0.01), kT0, none_fits).ok());
  aggregator->ExpectDeparture("car-unknown", kT0);  // not joined: ignored
  EdgeRound c = *aggregator->Join(Seed(Join("car-c", 10, 0.01), RandomVector(kParams, 1, 1)), kT0);
  EXPECT_EQ(c.inner_steps(), 2);
  EXPECT_THAT(aggregator->TakeEvents(), Contains(HasSubstr("car-b departs before")));
  // Joining again (mid-round) applies the same limit.
  EXPECT_EQ(aggregator->Join(Join("car-a", 10, 0), kT0, one_step_fits)->inner_steps(), 1);
  EXPECT_EQ(aggregator->Join(Join("car-b", 10, 0), kT0, none_fits)->samples_size(), 0);
  // A departure no longer predicted lifts the limit.
  EXPECT_EQ(aggregator->Join(Join("car-a", 10, 0), kT0)->inner_steps(), 2);
}

TEST(RoundAggregatorTest, StepsAreClampedToSixteenH) {
  auto aggregator = MakeAggregator(EdgeJob("none"));
  ASSERT_TRUE(aggregator->Join(Join("datacenter", 10, 0.00001, 0, "dc-0"), kT0).ok());
  EdgeRound slow =
      *aggregator->Join(Seed(Join("car-slow", 10, 0.02), RandomVector(kParams, 1, 1)), kT0);
  EXPECT_EQ(slow.inner_steps(), 2);
  EdgeJoin again = Join("datacenter", 10, 0, 0, "dc-0");
  EXPECT_EQ(aggregator->Join(again, kT0)->inner_steps(), 32);
}

TEST(RoundAggregatorTest, WithoutAVehicleRateTheKnownRatesSetTheReferenceTime) {
  auto aggregator = MakeAggregator(EdgeJob("none"));
  ASSERT_TRUE(aggregator->Join(Join("datacenter", 40, 0.001, 0, "dc-0"), kT0).ok());
  EdgeRound car = *aggregator->Join(Seed(Join("car-1", 10, 0), RandomVector(kParams, 1, 1)), kT0);
  EXPECT_EQ(car.inner_steps(), 2);
  EXPECT_EQ(aggregator->Join(Join("datacenter", 40, 0, 0, "dc-0"), kT0)->inner_steps(), 2);
}

TEST(RoundAggregatorTest, MidRoundJoinerGetsTheStepsThatFitOrWaits) {
  JobConfig job = EdgeJob("none");
  job.edge.round_deadline = absl::Seconds(100);
  auto aggregator = MakeAggregator(job);
  ASSERT_TRUE(
      aggregator->Join(Seed(Join("car-1", 10, 1.0), RandomVector(kParams, 1, 1)), kT0).ok());
  // 40 s left, 1.5 * 10 * 0.5 s = 7.5 s per step: 5 steps fit, but its normal steps are 4.
  EdgeRound fast = *aggregator->Join(Join("car-2", 10, 0.5), kT0 + absl::Seconds(60));
  EXPECT_EQ(fast.inner_steps(), 4);
  // 20 s left, 1.5 * 10 * 1 s = 15 s per step: 1 step.
  EdgeRound slow = *aggregator->Join(Join("car-3", 10, 1.0), kT0 + absl::Seconds(80));
  EXPECT_EQ(slow.inner_steps(), 1);
  EXPECT_EQ(slow.samples_size(), 10);
  // Unknown rate with less than half the round left: it waits for the next round.
  EdgeRound waits = *aggregator->Join(Join("car-4", 10, 0), kT0 + absl::Seconds(51));
  EXPECT_EQ(waits.inner_steps(), 0);
  EXPECT_EQ(waits.samples_size(), 0);
  EXPECT_EQ(waits.parameters().count(), kParams);
  // Its empty contribution is no contribution: the round is not waiting for it.
  EdgeContribution nothing;
  nothing.set_replica("car-4");
  nothing.set_node_id("car-4");
  nothing.set_round(0);
  EXPECT_TRUE(aggregator->Contribute(nothing, kT0 + absl::Seconds(81)).ok());
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  for (const std::string id : {"car-1", "car-2", "car-3"}) {
    ASSERT_TRUE(
        aggregator->Contribute(Contribution(id, 0, Compression::kNone, g), kT0 + absl::Seconds(90))
            .ok());
  }
  EXPECT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(90)));
  EdgeRound next = *aggregator->NextRound("car-4", 0, kT0 + absl::Seconds(90));
  EXPECT_FALSE(next.delta());
  EXPECT_EQ(next.inner_steps(), 2);
  EXPECT_EQ(aggregator->counters().contributions.count("late"), 0u);
}

TEST(RoundAggregatorTest, AnEpochJobEndsWhenEverySampleWasTrainedOnce) {
  JobConfig job = EdgeJob("int8");
  job.epochs = 1;
  auto aggregator = MakeAggregator(job, 100);
  auto join = [](EdgeJoin j) {
    j.set_dataset_samples(100);
    return j;
  };
  std::map<std::string, EdgeRound> offers;
  offers["car-1"] = *aggregator->Join(join(Seed(Join("car-1"), RandomVector(kParams, 1, 1))), kT0);
  offers["car-2"] = *aggregator->Join(join(Join("car-2")), kT0);
  std::multiset<uint32_t> trained;
  absl::Time now = kT0;
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  int64_t round = 0;
  for (; round < 10 && !aggregator->finished(); ++round) {
    for (auto& [id, offer] : offers) {
      ASSERT_EQ(offer.round(), round);
      EXPECT_FALSE(offer.finished());
      EXPECT_EQ(offer.epoch(), 0);
      EdgeContribution c = Contribution(id, round, Compression::kInt8, g);
      if (offer.samples_size() == 0) {
        c = EdgeContribution();
        c.set_replica(id);
        c.set_node_id(id);
        c.set_round(round);
      }
      trained.insert(offer.samples().begin(), offer.samples().end());
      ASSERT_TRUE(aggregator->Contribute(c, now).ok());
    }
    ASSERT_TRUE(aggregator->MaybeClose(now));
    for (auto& [id, offer] : offers) offer = *aggregator->NextRound(id, round, now);
    now += absl::Seconds(1);
  }
  // 40 samples a round: 40, 40, then 20 for car-1 and none for car-2.
  EXPECT_EQ(round, 3);
  EXPECT_TRUE(aggregator->finished());
  EXPECT_EQ(trained.size(), 100u);
  EXPECT_EQ(std::set<uint32_t>(trained.begin(), trained.end()).size(), 100u);
  for (const auto& [id, offer] : offers) {
    EXPECT_TRUE(offer.finished()) << id;
    EXPECT_EQ(offer.parameters().codec(), "none");
    EXPECT_EQ(Decode(offer.parameters()), aggregator->global_parameters());
    EXPECT_EQ(offer.samples_size(), 0);
    EXPECT_DOUBLE_EQ(offer.progress(), 1.0);
    EXPECT_EQ(offer.epoch(), 1);
  }
  EXPECT_FALSE(aggregator->MaybeClose(now + absl::Hours(1)));
  absl::Status after =
      aggregator->Contribute(Contribution("car-1", round, Compression::kInt8, g), now);
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(after.message(), HasSubstr("finished"));
  EXPECT_TRUE(aggregator->Join(join(Join("car-3")), now)->finished());
}

TEST(RoundAggregatorTest, AStepsJobEndsAfterThatManyUpdatingRounds) {
  JobConfig job = EdgeJob("none");
  job.steps = 3;
  auto aggregator = MakeAggregator(job);
  EdgeRound offer = *aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 1)), kT0);
  std::vector<float> nan_gradient(kParams, std::numeric_limits<float>::quiet_NaN());
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  int64_t round = 0;
  for (; round < 10 && !offer.finished(); ++round) {
    EXPECT_DOUBLE_EQ(offer.progress(), static_cast<double>(aggregator->outer_steps()) / 3);
    // Round 1 is rejected and does not count.
    ASSERT_TRUE(aggregator
                    ->Contribute(Contribution("car-1", round, Compression::kNone,
                                              round == 1 ? nan_gradient : g),
                                 kT0)
                    .ok());
    ASSERT_TRUE(aggregator->MaybeClose(kT0));
    offer = *aggregator->NextRound("car-1", round, kT0);
  }
  EXPECT_EQ(round, 4);
  EXPECT_TRUE(aggregator->finished());
  EXPECT_EQ(aggregator->outer_steps(), 3);
  EXPECT_EQ(aggregator->counters().rounds, 4);
  EXPECT_EQ(offer.outer_step(), 3);
}

TEST(RoundAggregatorTest, OneReplicaEvaluatesOncePerEpoch) {
  JobConfig job = EdgeJob("none");
  job.epochs = 3;
  auto aggregator = MakeAggregator(job, 40);
  auto join = [](EdgeJoin j) {
    j.set_dataset_samples(40);
    return j;
  };
  std::map<std::string, EdgeRound> offers;
  offers["car-1"] = *aggregator->Join(join(Seed(Join("car-1"), RandomVector(kParams, 1, 1))), kT0);
  offers["car-2"] = *aggregator->Join(join(Join("car-2")), kT0);
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  // Round 0 trains the whole epoch; round 1 asks car-1 (the lowest id) to evaluate.
  for (int64_t round = 0; round < 3; ++round) {
    int evaluators = 0;
    for (auto& [id, offer] : offers) {
      evaluators += offer.evaluate() ? 1 : 0;
      if (round == 1) {
        EXPECT_EQ(offer.evaluate(), id == "car-1");
      }
      EdgeContribution c = Contribution(id, round, Compression::kNone, g);
      if (offer.evaluate()) c.set_test_accuracy(0.5 + 0.1 * static_cast<double>(round));
      ASSERT_TRUE(aggregator->Contribute(c, kT0).ok());
    }
    EXPECT_EQ(evaluators, round == 0 ? 0 : 1) << "round " << round;
    ASSERT_TRUE(aggregator->MaybeClose(kT0));
    for (auto& [id, offer] : offers) offer = *aggregator->NextRound(id, round, kT0);
  }
  EXPECT_DOUBLE_EQ(aggregator->last_test_accuracy(), 0.7);
  EXPECT_TRUE(aggregator->finished());
}

TEST(RoundAggregatorTest, TheDataCenterGroupEvaluatesWhenItTakesPart) {
  JobConfig job = EdgeJob("none");
  job.epochs = 3;
  auto aggregator = MakeAggregator(job, 60);
  auto join = [](EdgeJoin j) {
    j.set_dataset_samples(60);
    return j;
  };
  ASSERT_TRUE(aggregator->Join(join(Seed(Join("car-1"), RandomVector(kParams, 1, 1))), kT0).ok());
  ASSERT_TRUE(aggregator->Join(join(Join("car-2")), kT0).ok());
  ASSERT_TRUE(aggregator->Join(join(Join("datacenter", 10, 0, 0, "dc-0")), kT0).ok());
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  for (const std::string id : {"car-1", "car-2", "datacenter"}) {
    EdgeContribution c = Contribution(id, 0, Compression::kNone, g);
    if (id == "datacenter") c.set_node_id("dc-0");
    ASSERT_TRUE(aggregator->Contribute(c, kT0).ok());
  }
  ASSERT_TRUE(aggregator->MaybeClose(kT0));
  EXPECT_FALSE(aggregator->NextRound("car-1", 0, kT0)->evaluate());
  EXPECT_FALSE(aggregator->NextRound("car-2", 0, kT0)->evaluate());
  EXPECT_TRUE(aggregator->NextRound("datacenter", 0, kT0)->evaluate());
}

TEST(RoundAggregatorTest, BadInputIsRefusedNamingTheField) {
  JobConfig no_edge = EdgeJob("int8");
  no_edge.edge.enabled = false;
  absl::StatusOr<std::unique_ptr<RoundAggregator>> created = RoundAggregator::Create(no_edge, 10);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(created.status().message(), HasSubstr("edge"));
  JobConfig bad_codec = EdgeJob("zip");
  created = RoundAggregator::Create(bad_codec, 10);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(created.status().message(), HasSubstr("compression"));

  auto aggregator = MakeAggregator(EdgeJob("int8"));
  absl::StatusOr<EdgeRound> r = aggregator->Join(Join("car-1", 10, 0, 0, "car-9"), kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("replica 'car-1'"));
  EXPECT_THAT(r.status().message(), HasSubstr("node_id 'car-9'"));

  EdgeJoin wrong_size = Join("car-1");
  wrong_size.set_dataset_samples(999);
  r = aggregator->Join(wrong_size, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("dataset_samples 999"));

  r = aggregator->Join(Join("car-1", 0), kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("batch"));

  EdgeJoin compressed_seed = Join("car-1");
  *compressed_seed.mutable_parameters() = Encode(Compression::kInt8, RandomVector(kParams, 1, 1));
  r = aggregator->Join(compressed_seed, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("parameters.codec"));

  std::vector<float> not_finite = RandomVector(kParams, 1, 1);
  not_finite[3] = std::numeric_limits<float>::infinity();
  r = aggregator->Join(Seed(Join("car-1"), not_finite), kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("parameters value 3"));

  ASSERT_TRUE(aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 1)), kT0).ok());
  r = aggregator->Join(Seed(Join("car-2"), RandomVector(kParams + 1, 1, 1)), kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("parameters.count 1001"));

  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  absl::Status s = aggregator->Contribute(Contribution("car-1", 5, Compression::kInt8, g), kT0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("round 5"));
  s = aggregator->Contribute(Contribution("car-7", 0, Compression::kInt8, g), kT0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("car-7"));
  s = aggregator->Contribute(Contribution("car-1", 0, Compression::kInt8, g, {}, 0, "car-2"), kT0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("node_id 'car-2'"));

  absl::StatusOr<EdgeRound> early = aggregator->NextRound("car-1", 0, kT0);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.status().message(), HasSubstr("still open"));
  EXPECT_EQ(aggregator->NextRound("car-8", 0, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RoundAggregatorTest, ARoundDoesNotWaitForAReplicaThatLeft) {
  auto aggregator = MakeAggregator(EdgeJob("int8"));
  ASSERT_TRUE(aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 1)), kT0).ok());
  ASSERT_TRUE(aggregator->Join(Join("car-2"), kT0).ok());
  EdgeRound leaving = *aggregator->Join(Join("car-3"), kT0);
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kInt8, g), kT0).ok());
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-2", 0, Compression::kInt8, g), kT0).ok());
  EXPECT_FALSE(aggregator->MaybeClose(kT0 + absl::Seconds(1)));
  aggregator->ReplicaLeft("car-3");
  EXPECT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(1)));
  EXPECT_EQ(aggregator->counters().contributions.count("late"), 0u);
  EXPECT_TRUE(HasEvent(aggregator->TakeEvents(), "car-3 left in round 0"));
  std::set<uint32_t> dealt;
  for (const std::string id : {"car-1", "car-2"}) {
    EdgeRound next = *aggregator->NextRound(id, 0, kT0 + absl::Seconds(1));
    dealt.insert(next.samples().begin(), next.samples().end());
  }
  for (uint32_t sample : leaving.samples()) EXPECT_EQ(dealt.count(sample), 1u) << sample;
  EXPECT_EQ(aggregator->NextRound("car-3", 0, kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Coming back, it is invited mid-round.
  EdgeRound back = *aggregator->Join(Join("car-3"), kT0 + absl::Seconds(1));
  EXPECT_EQ(back.round(), 1);
  EXPECT_FALSE(back.delta());
  EXPECT_EQ(back.samples_size(), 20);
}

TEST(RoundAggregatorTest, WaitingReplicasAreNotStrandedWhenTheTrainersLeave) {
  JobConfig job = EdgeJob("none");
  job.edge.round_deadline = absl::Seconds(100);
  auto aggregator = MakeAggregator(job);
  ASSERT_TRUE(aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 1)), kT0).ok());
  EdgeRound waits = *aggregator->Join(Join("car-2"), kT0 + absl::Seconds(60));
  ASSERT_EQ(waits.samples_size(), 0);
  aggregator->ReplicaLeft("car-1");
  EXPECT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(61)));
  EXPECT_EQ(aggregator->outer_steps(), 0);
  EdgeRound next = *aggregator->NextRound("car-2", 0, kT0 + absl::Seconds(61));
  EXPECT_EQ(next.round(), 1);
  EXPECT_EQ(next.samples_size(), 20);
  // Alone, a replica that leaves and comes back starts the round afresh.
  aggregator->ReplicaLeft("car-2");
  EXPECT_FALSE(aggregator->MaybeClose(kT0 + absl::Seconds(500)));
  EdgeRound back = *aggregator->Join(Join("car-2"), kT0 + absl::Seconds(500));
  EXPECT_EQ(back.round(), 1);
  EXPECT_EQ(back.samples_size(), 20);
  EXPECT_EQ(aggregator->deadline(), kT0 + absl::Seconds(600));
}

TEST(RoundAggregatorTest, JoiningAgainGivesBackTheSamplesAndTheContribution) {
  auto aggregator = MakeAggregator(EdgeJob("none"));
  EdgeRound first = *aggregator->Join(Seed(Join("car-1"), RandomVector(kParams, 1, 1)), kT0);
  ASSERT_TRUE(aggregator->Join(Join("car-2"), kT0).ok());
  const std::vector<float> g = RandomVector(kParams, 5, 0.01f);
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kNone, g), kT0).ok());
  EdgeRound again = *aggregator->Join(Join("car-1"), kT0 + absl::Seconds(1));
  EXPECT_EQ(Samples(again), Samples(first));  // what went back is dealt first
  // Its contribution was dropped: the round waits for a new one.
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-2", 0, Compression::kNone, g), kT0).ok());
  EXPECT_FALSE(aggregator->MaybeClose(kT0 + absl::Seconds(1)));
  ASSERT_TRUE(aggregator->Contribute(Contribution("car-1", 0, Compression::kNone, g), kT0).ok());
  EXPECT_TRUE(aggregator->MaybeClose(kT0 + absl::Seconds(1)));
}

TEST(RoundAggregatorTest, CountsBytesByLinkClassAndKeepsUploadTimeInTheOffer) {
  auto aggregator = MakeAggregator(EdgeJob("int8"));
  EdgeRound car = *aggregator->Join(
      Seed(Join("car-1", 10, 0, /*link_mbps=*/8), RandomVector(kParams, 1, 1)), kT0);
  const int64_t int8_bytes =
      static_cast<int64_t>(worker::edge::CompressedBytes(Compression::kInt8, kParams));
  EXPECT_EQ(aggregator->counters().bytes_sent.at("vehicle"), int8_bytes + 4 * 20);
  // Deadline: 1.5 * 2 s + 2 * int8_bytes * 8 / 8e6 s + 2 s; the upload is half of that link
  // time, and 0.5 s more is kept back.
  const double link = static_cast<double>(int8_bytes) * 8 / 8e6;
  EXPECT_EQ(aggregator->deadline(), kT0 + absl::Seconds(3 + 2 * link + 2));
  EXPECT_NEAR(car.send_within_seconds(), 5 + 2 * link - link - 0.5, 1e-6);
  EdgeRound dc = *aggregator->Join(Join("datacenter", 10, 0, 1000, "dc-0"), kT0);
  EXPECT_EQ(aggregator->counters().bytes_sent.at("datacenter"), int8_bytes + 4 * 20);
  EdgeContribution c =
      Contribution("datacenter", 0, Compression::kInt8, RandomVector(kParams, 5, 0.01f), {1, 2});
  c.set_node_id("dc-0");
  ASSERT_TRUE(aggregator->Contribute(c, kT0).ok());
  EXPECT_EQ(aggregator->counters().bytes_received.at("datacenter"), int8_bytes + 8);
  EXPECT_EQ(dc.samples_size(), 20);
}

}  // namespace
}  // namespace cosched::scheduler::edge
