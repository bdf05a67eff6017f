// File: worker/inference/inference_service.h
// The worker's gRPC inference endpoint (proto/inference.proto) in front of InferenceEngine.
// It validates requests (image sizes, deadlines) and maps the engine's refusals to gRPC
// status codes. gRPC server reflection is on, so generic clients (grpcurl) can call it.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/inference/inference_engine.h"

namespace grpc {
class Server;
}

namespace cosched::worker {

class InferenceServer {
 public:
  // Serves on `address` (HOST:PORT; port 0 picks a free one).
  static absl::StatusOr<std::unique_ptr<InferenceServer>> Start(const std::string& address,
                                                                InferenceEngine* engine,
                                                                int image_bytes,
                                                                absl::Duration default_deadline);
  ~InferenceServer();  // shuts the server down and waits for calls in flight

  int port() const { return port_; }

 private:
  class Service;
  InferenceServer(std::unique_ptr<Service> service, std::unique_ptr<grpc::Server> server, int port);
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_;
};

}  // namespace cosched::worker
