// File: worker/inference/inference_service.cc
#include "worker/inference/inference_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "proto/inference.grpc.pb.h"
#include "worker/inference/inference_wire.h"

namespace cosched::worker {

class InferenceServer::Service final : public cosched::v1::Inference::Service {
 public:
  Service(InferenceEngine* engine, int image_bytes, absl::Duration default_deadline)
      : engine_(engine), image_bytes_(image_bytes), default_deadline_(default_deadline) {}

  grpc::Status Infer(grpc::ServerContext* context, const cosched::v1::InferRequest* request,
                     cosched::v1::InferReply* reply) override {
    const absl::Time arrival = absl::Now();
    absl::StatusOr<std::vector<float>> pixels = DecodeImages(*request, image_bytes_);
    if (!pixels.ok()) return ToGrpcStatus(pixels.status());
    const absl::Time deadline = std::min(RequestDeadline(*request, arrival, default_deadline_),
                                         absl::FromChrono(context->deadline()));
    auto result = engine_->Infer(*std::move(pixels), deadline, VersionWanted{request->model()});
    if (!result.ok()) return ToGrpcStatus(result.status());
    FillReply(*result, reply);
    return grpc::Status::OK;
  }

 private:
  InferenceEngine* const engine_;
  const int image_bytes_;
  const absl::Duration default_deadline_;
};

absl::StatusOr<std::unique_ptr<InferenceServer>> InferenceServer::Start(
    const std::string& address, InferenceEngine* engine, int image_bytes,
    absl::Duration default_deadline) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto service = std::make_unique<Service>(engine, image_bytes, default_deadline);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve inference on '", address, "'"));
  }
  return std::unique_ptr<InferenceServer>(
      new InferenceServer(std::move(service), std::move(server), port));
}

InferenceServer::InferenceServer(std::unique_ptr<Service> service,
                                 std::unique_ptr<grpc::Server> server, int port)
    : service_(std::move(service)), server_(std::move(server)), port_(port) {}

InferenceServer::~InferenceServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
}

}  // namespace cosched::worker
