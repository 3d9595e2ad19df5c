// ReserveMemory: RMM_RESERVE_MEMORY with its fields spelled out (AllocateMemory's counterpart for the
// tfa profiles).
#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "service.hpp"

namespace el3d {

using grpc::Status;
using grpc::StatusCode;

Status MonitorService::ReserveMemory(grpc::ServerContext*, const v1::ReserveMemoryRequest* req,
                                     v1::ReserveMemoryResponse* resp)
{
	if (req->align_bits() > 0xFF)
		return {StatusCode::INVALID_ARGUMENT, "align_bits " + std::to_string(req->align_bits()) +
		                                          " does not fit the 8-bit field x2[63:56]"};
	const uint64_t x2 = (uint64_t{req->align_bits()} << 56) | (req->local_cpu() ? 1u : 0u);
	SmcResult r{};
	std::string why;
	if (Status s = dispatch(req->cpu(), EL3_FID_RMM_RESERVE_MEMORY, {req->size(), x2}, r, &why); !s.ok())
		return s;
	const auto x0 = static_cast<int64_t>(r[0]);
	resp->set_result(x0);
	resp->set_address(x0 == 0 ? r[1] : 0);
	resp->set_result_name(rmm_result_name(r[0]));
	if (x0 != 0)
		resp->set_reason(why);
	return Status::OK;
}

}  // namespace el3d
