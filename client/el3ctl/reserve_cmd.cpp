// el3ctl reserve: RMM_RESERVE_MEMORY (the tfa profiles' allocation) through the typed RPC.
#include "commands.hpp"

#include "el3d/util/numbers.hpp"

#include <ostream>

namespace el3d::cli {

int cmd_reserve(Session& s, uint32_t cpu, const std::string& size, unsigned align_bits, bool local_cpu)
{
	auto sz = parse_u64(size);
	if (!sz) {
		*s.err << "el3ctl reserve: size '" << size << "' is not a number (e.g. 0x4000, 16K)\n";
		return kUsage;
	}
	if (!s.connect())
		return kUnreachable;
	v1::ReserveMemoryRequest req;
	req.set_cpu(cpu);
	req.set_size(*sz);
	req.set_align_bits(align_bits);
	req.set_local_cpu(local_cpu);
	v1::ReserveMemoryResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->ReserveMemory(ctx.get(), req, &resp);
	if (!st.ok())
		return s.fail(st, "reserve");
	if (resp.result() != 0) {
		*s.err << "el3ctl reserve: RMM_RESERVE_MEMORY returned " << resp.result_name() << " (x0="
		       << hex64(static_cast<uint64_t>(resp.result())) << ")"
		       << (resp.reason().empty() ? "" : ": el3d says: " + resp.reason());
		if (resp.result() == -1)
			*s.err << "; under the seed ABI (el3d --abi seed) the RMM allocates with RMM_ALLOCATE_MEMORY: `el3ctl alloc`";
		*s.err << "\n";
		return kSmcError;
	}
	*s.out << "addr=" << hex64(resp.address()) << " size=" << hex(*sz) << (local_cpu ? " local" : "") << "\n";
	return kOk;
}

}  // namespace el3d::cli
