// File: scheduler/service/worker_session_service_test.cc
// The wire-to-core conversions of worker messages: a worker's messages are untrusted input.
#include "scheduler/service/worker_session_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

TEST(WorkerMessagesTest, AWorkersReasonsAreBoundedBeforeTheyReachJobEvents) {
  cosched::v1::WorkerHeartbeat message;
  message.set_failure(std::string(100000, 'x'));
  message.set_draining("SIGTERM");
  message.set_failed_generation(3);
  message.set_generation_failure(std::string(5000, 'y'));
  const Heartbeat heartbeat = HeartbeatFromProto(message);
  EXPECT_LT(heartbeat.failure.size(), 600u);
  EXPECT_THAT(heartbeat.failure, HasSubstr("(100000 bytes)"));
  EXPECT_LT(heartbeat.generation_failure.size(), 600u);
  EXPECT_EQ(heartbeat.draining, "SIGTERM");  // short ones pass unchanged
}

TEST(WorkerMessagesTest, ARegistrationWithABadIdOrKindIsRefusedNamingIt) {
  cosched::v1::RegisterWorker registration;
  registration.set_kind("vehicle");
  EXPECT_THAT(NodeInfoFromProto(registration).status().message(), HasSubstr("node_id"));
  registration.set_node_id("car-1");
  registration.set_kind("boat");
  EXPECT_THAT(NodeInfoFromProto(registration).status().message(), HasSubstr("kind 'boat'"));
  registration.set_kind("vehicle");
  ASSERT_TRUE(NodeInfoFromProto(registration).ok());
  EXPECT_EQ(NodeInfoFromProto(registration)->kind, NodeKind::kVehicle);
}

}  // namespace
}  // namespace cosched::scheduler
