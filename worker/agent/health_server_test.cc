// File: worker/agent/health_server_test.cc
// The worker's grpc.health.v1 endpoint, asked the way Kubernetes' grpc probes ask it.
#include "worker/agent/health_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "proto/health.grpc.pb.h"

namespace cosched::worker {
namespace {

using grpc::health::v1::HealthCheckResponse;

// The status a probe sees for the server as a whole (service "").
HealthCheckResponse::ServingStatus Probe(int port) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  HealthCheckResponse reply;
  const grpc::Status status = stub->Check(&context, request, &reply);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return reply.status();
}

TEST(HealthServerTest, ServesUntilTheWorkerDrains) {
  auto server = HealthServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ(Probe((*server)->port()), HealthCheckResponse::SERVING);
  {  // a service it does not answer for: NOT_FOUND, as the protocol says
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("cosched.v1.NoSuchService");
    HealthCheckResponse reply;
    EXPECT_EQ(stub->Check(&context, request, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  (*server)->Draining();
  EXPECT_EQ(Probe((*server)->port()), HealthCheckResponse::NOT_SERVING);
}

// Watch (what grpc_health_probe -watch and load balancers use) hears the change as it happens.
TEST(HealthServerTest, AWatcherHearsTheDrain) {
  auto server = HealthServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto watch = stub->Watch(&context, grpc::health::v1::HealthCheckRequest());
  HealthCheckResponse reply;
  ASSERT_TRUE(watch->Read(&reply));
  EXPECT_EQ(reply.status(), HealthCheckResponse::SERVING);
  (*server)->Draining();
  ASSERT_TRUE(watch->Read(&reply));
  EXPECT_EQ(reply.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();
}

TEST(HealthServerTest, AnAddressItCannotListenOnIsAnErrorNamingIt) {
  auto server = HealthServer::Start("198.18.255.254:1");  // no interface of this machine has it
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("198.18.255.254:1"), std::string::npos)
      << server.status();
}

}  // namespace
}  // namespace cosched::worker
