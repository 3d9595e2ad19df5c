#pragma once
// The el3d.v1.Monitor gRPC service: a thin translation between protobuf messages and the core.
#include "el3d/monitor/monitor.hpp"
#include "el3d/nsmem/nsmem.hpp"
#include "el3d/v1/monitor.grpc.pb.h"

#include <mutex>

namespace el3d {

inline constexpr uint64_t kMaxMemoryTransfer = 4u << 20;  // bytes per ReadMemory/WriteMemory

class MonitorService final : public v1::Monitor::Service {
public:
	// `ns`: the NS memory file of the monitor's carveout (null: none), zeroed by Reset with the carveout.
	explicit MonitorService(Monitor& monitor, NsMemory* ns = nullptr) : monitor_(monitor), ns_(ns) {}

	grpc::Status Smc(grpc::ServerContext*, const v1::SmcRequest*, v1::SmcResponse*) override;
	grpc::Status AllocateMemory(grpc::ServerContext*, const v1::AllocateMemoryRequest*,
	                            v1::AllocateMemoryResponse*) override;
	grpc::Status GetState(grpc::ServerContext*, const v1::GetStateRequest*, v1::State*) override;
	grpc::Status Boot(grpc::ServerContext*, const v1::BootRequest*, v1::BootResponse*) override;
	grpc::Status Session(grpc::ServerContext*,
	                     grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) override;
	grpc::Status Reset(grpc::ServerContext*, const v1::ResetRequest*, v1::ResetResponse*) override;
	grpc::Status ReadMemory(grpc::ServerContext*, const v1::ReadMemoryRequest*, v1::ReadMemoryResponse*) override;
	grpc::Status WriteMemory(grpc::ServerContext*, const v1::WriteMemoryRequest*, v1::WriteMemoryResponse*) override;

private:
	// Boot entry shared by Boot and Session.
	grpc::Status enter(uint32_t cpu, v1::EntryKind kind, const std::string& config, const std::string& format,
	                   v1::BootResponse* resp);
	// The one path from the API into the core.
	grpc::Status dispatch(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out);
	Monitor& monitor_;
	NsMemory* ns_;
	std::mutex reset_mu_;  // one Reset at a time: the NS file records the epoch the carveout's reset made
};

}  // namespace el3d
