// File: worker/agent/health_server.h
// HealthServer: the standard gRPC health service (grpc.health.v1) on an address of its own,
// for what probes a worker from outside: Kubernetes' grpc liveness and readiness probes,
// grpc_health_probe. A worker under a scheduler serves nothing else (it dials out), so it
// needs a server just for this. SERVING from Start; NOT_SERVING once the worker drains, so a
// readiness probe takes the pod out of its Services while the job re-forms without it.
//
// Its own implementation, not gRPC's default health service: that one needs a server with
// other synchronous services (alone it asks for a completion queue to poll, and hangs).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "grpcpp/server.h"
#include "proto/health.grpc.pb.h"

namespace cosched::worker {

class HealthServer {
 public:
  // Listens on `address` (HOST:PORT; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& address);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  int port() const { return port_; }
  // From now on every check answers NOT_SERVING, and every Watch hears it.
  void Draining();

 private:
  // Answers for the server as a whole (service ""); any other name is NOT_FOUND.
  class Service final : public grpc::health::v1::Health::Service {
   public:
    grpc::Status Check(grpc::ServerContext* context,
                       const grpc::health::v1::HealthCheckRequest* request,
                       grpc::health::v1::HealthCheckResponse* reply) override;
    grpc::Status Watch(grpc::ServerContext* context,
                       const grpc::health::v1::HealthCheckRequest* request,
                       grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;
    void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(mu_);
    void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);  // ends every Watch

   private:
    Mutex mu_;
    CondVar changed_;
    bool serving_ ABSL_GUARDED_BY(mu_) = true;
    bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  };

  HealthServer() = default;

  Service service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace cosched::worker
