// File: worker/inference/inference_service.cc
#include "worker/inference/inference_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "proto/inference.grpc.pb.h"

namespace cosched::worker {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

class InferenceServer::Service final : public cosched::v1::Inference::Service {
 public:
  Service(InferenceEngine* engine, int image_bytes, absl::Duration default_deadline)
      : engine_(engine), image_bytes_(image_bytes), default_deadline_(default_deadline) {}

  grpc::Status Infer(grpc::ServerContext* context, const cosched::v1::InferRequest* request,
                     cosched::v1::InferReply* reply) override {
    const absl::Time arrival = absl::Now();
    if (request->images_size() == 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request has no images");
    }
    std::vector<float> pixels;
    pixels.reserve(static_cast<size_t>(request->images_size()) * image_bytes_);
    for (int i = 0; i < request->images_size(); ++i) {
      const std::string& image = request->images(i);
      if (static_cast<int>(image.size()) != image_bytes_) {
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("image ", i, " has ", image.size(), " bytes; expected ", image_bytes_));
      }
      for (unsigned char byte : image) pixels.push_back(static_cast<float>(byte) / 255.0f);
    }
    absl::Time deadline =
        arrival + (request->deadline_ms() > 0 ? absl::Milliseconds(request->deadline_ms())
                                              : default_deadline_);
    deadline = std::min(deadline, absl::FromChrono(context->deadline()));
    auto result = engine_->Infer(std::move(pixels), deadline);
    if (!result.ok()) return ToGrpc(result.status());
    for (uint32_t c : result->classes) reply->add_classes(c);
    for (float s : result->scores) reply->add_scores(s);
    reply->set_weights_step(result->weights_step);
    reply->set_queue_seconds(absl::ToDoubleSeconds(result->queue));
    reply->set_compute_seconds(absl::ToDoubleSeconds(result->compute));
    reply->set_deadline_met(result->deadline_met);
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
