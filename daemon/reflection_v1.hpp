#pragma once
// gRPC server reflection v1 (grpc.reflection.v1.ServerReflection), served beside the v1alpha service
// of gRPC's reflection plugin: Debian's gRPC 1.51 has only v1alpha, and recent generic clients ask v1.
// Answers from the descriptors compiled into el3d (the generated pool).
#include "grpc/reflection/v1/reflection.grpc.pb.h"

#include <string>
#include <vector>

namespace el3d {

class ReflectionV1 final : public grpc::reflection::v1::ServerReflection::Service {
public:
	// `services`: the fully qualified names list_services answers.
	explicit ReflectionV1(std::vector<std::string> services) : services_(std::move(services)) {}

	grpc::Status ServerReflectionInfo(
	    grpc::ServerContext* ctx,
	    grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
	                             grpc::reflection::v1::ServerReflectionRequest>* stream) override;

private:
	std::vector<std::string> services_;
};

}  // namespace el3d
