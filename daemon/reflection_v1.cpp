// gRPC server reflection v1 over the generated descriptor pool: one response per request, files sent
// with the imports this stream has not sent yet, NOT_FOUND for names the pool does not know.
#include "reflection_v1.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <set>

namespace el3d {

namespace rv1 = grpc::reflection::v1;
namespace pb = google::protobuf;

namespace {

void not_found(rv1::ServerReflectionResponse& resp, const std::string& what)
{
	auto* e = resp.mutable_error_response();
	e->set_error_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
	e->set_error_message(what);
}

// `file` (always: it is what was asked) and the files it imports, depth first, each of those once per stream.
void add_file(const pb::FileDescriptor* file, std::set<std::string>& sent, rv1::FileDescriptorResponse& out,
              bool asked = true)
{
	if (!sent.insert(file->name()).second && !asked)
		return;
	pb::FileDescriptorProto proto;
	file->CopyTo(&proto);
	out.add_file_descriptor_proto(proto.SerializeAsString());
	for (int i = 0; i < file->dependency_count(); ++i)
		add_file(file->dependency(i), sent, out, false);
}

}  // namespace

grpc::Status ReflectionV1::ServerReflectionInfo(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<rv1::ServerReflectionResponse, rv1::ServerReflectionRequest>* stream)
{
	const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
	std::set<std::string> sent;
	rv1::ServerReflectionRequest req;
	while (!ctx->IsCancelled() && stream->Read(&req)) {
		rv1::ServerReflectionResponse resp;
		resp.set_valid_host(req.host());
		*resp.mutable_original_request() = req;
		switch (req.message_request_case()) {
		case rv1::ServerReflectionRequest::kListServices:
			for (const auto& name : services_)
				resp.mutable_list_services_response()->add_service()->set_name(name);
			break;
		case rv1::ServerReflectionRequest::kFileByFilename:
			if (const auto* f = pool->FindFileByName(req.file_by_filename()))
				add_file(f, sent, *resp.mutable_file_descriptor_response());
			else
				not_found(resp, "no file " + req.file_by_filename());
			break;
		case rv1::ServerReflectionRequest::kFileContainingSymbol:
			if (const auto* f = pool->FindFileContainingSymbol(req.file_containing_symbol()))
				add_file(f, sent, *resp.mutable_file_descriptor_response());
			else
				not_found(resp, "no symbol " + req.file_containing_symbol());
			break;
		case rv1::ServerReflectionRequest::kFileContainingExtension: {
			const auto& x = req.file_containing_extension();
			const auto* type = pool->FindMessageTypeByName(x.containing_type());
			const auto* ext = type ? pool->FindExtensionByNumber(type, x.extension_number()) : nullptr;
			if (ext != nullptr)
				add_file(ext->file(), sent, *resp.mutable_file_descriptor_response());
			else
				not_found(resp, "no extension " + std::to_string(x.extension_number()) + " of " + x.containing_type());
			break;
		}
		case rv1::ServerReflectionRequest::kAllExtensionNumbersOfType:
			if (const auto* type = pool->FindMessageTypeByName(req.all_extension_numbers_of_type())) {
				std::vector<const pb::FieldDescriptor*> exts;
				pool->FindAllExtensions(type, &exts);
				auto* out = resp.mutable_all_extension_numbers_response();
				out->set_base_type_name(type->full_name());
				for (const auto* e : exts)
					out->add_extension_number(e->number());
			} else {
				not_found(resp, "no message type " + req.all_extension_numbers_of_type());
			}
			break;
		case rv1::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
			resp.mutable_error_response()->set_error_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
			resp.mutable_error_response()->set_error_message("the request names nothing to look up");
			break;
		}
		if (!stream->Write(resp))
			break;
	}
	return grpc::Status::OK;
}

}  // namespace el3d
