// File: worker/agent/health_server.cc
#include "worker/agent/health_server.h"

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace cosched::worker {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& address) {
  std::unique_ptr<HealthServer> health(new HealthServer());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &health->port_);
  builder.RegisterService(&health->service_);
  health->server_ = builder.BuildAndStart();
  if (health->server_ == nullptr || health->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--health-address: cannot listen on '", address, "'"));
  }
  return health;
}

HealthServer::~HealthServer() {
  if (server_ == nullptr) return;  // Start failed
  service_.Shutdown();             // open Watch streams end, so the server can stop
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
}

void HealthServer::Draining() { service_.SetServing(false); }

grpc::Status HealthServer::Service::Check(grpc::ServerContext* /*context*/,
                                          const HealthCheckRequest* request,
                                          HealthCheckResponse* reply) {
  if (!request->service().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no health status for service '", request->service(),
                                     "' (this worker answers for \"\", the whole server)"));
  }
  MutexLock lock(&mu_);
  reply->set_status(serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  return grpc::Status::OK;
}

grpc::Status HealthServer::Service::Watch(grpc::ServerContext* context,
                                          const HealthCheckRequest* request,
                                          grpc::ServerWriter<HealthCheckResponse>* writer) {
  const bool known = request->service().empty();
  HealthCheckResponse reply;
  if (!known) {  // the protocol: SERVICE_UNKNOWN, and the call stays open
    reply.set_status(HealthCheckResponse::SERVICE_UNKNOWN);
    if (!writer->Write(reply)) return grpc::Status::OK;
  }
  std::optional<bool> sent;  // the status the watcher last heard
  while (true) {
    bool serving = false;
    {
      MutexLock lock(&mu_);
      // A cancelled call signals nothing here: look again every second.
      while (!shutdown_ && !context->IsCancelled() && (!known || sent == serving_)) {
        changed_.WaitWithDeadline(&mu_, absl::Now() + absl::Seconds(1));
      }
      if (shutdown_ || context->IsCancelled()) return grpc::Status::OK;
      serving = serving_;
    }
    reply.set_status(serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
    if (!writer->Write(reply)) return grpc::Status::OK;  // the watcher went away
    sent = serving;
  }
}

void HealthServer::Service::SetServing(bool serving) {
  MutexLock lock(&mu_);
  serving_ = serving;
  changed_.SignalAll();
}

void HealthServer::Service::Shutdown() {
  MutexLock lock(&mu_);
  shutdown_ = true;
  changed_.SignalAll();
}

}  // namespace cosched::worker
