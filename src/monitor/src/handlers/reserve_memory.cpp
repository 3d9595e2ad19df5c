// RMM_RESERVE_MEMORY (tfa profiles), FID 0xC40001BB.
//
//   Inputs   x1        size in bytes
//            x2[63:56] alignment, log2 of bytes
//            x2[55:1]  reserved, must be zero (bits [55:32] "reserved", [31:1] flags)
//            x2[0]     LOCAL_CPU: take memory close to the calling CPU (recorded; el3d has one pool)
//   Outputs  x0        E_RMM_OK, or an error
//            x1        physical address; on failure the caller's x2, as TF-A leaves it
//   Failure conditions, in order of checking:
//            E_RMM_INVAL  alignment >= 64 (el3d); any x2 bit in [55:1] set
//            E_RMM_UNK    --strict-boot and this CPU has completed its boot (el3d)
//            E_RMM_NOMEM  does not fit above RMM_PAYLOAD_LIMIT (el3d: also when size exceeds what
//                         is left, where TF-A's arithmetic wraps); allocation log full
// Reservations are untagged; state survives a live activation through the activation tokens.
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

void handle_reserve_memory(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t size = c.x(1);
	const uint64_t x2 = c.x(2);
	const auto align_bits = static_cast<unsigned>(x2 >> 56);
	const bool local_cpu = (x2 & 1) != 0;
	auto fail = [&](int64_t code, const char* name, const std::string& why) {
		spdlog::info("cpu{} RMM_RESERVE_MEMORY(size={:#x}, x2={:#x}) -> {}: {}", c.cpu, size, x2, name, why);
		c.ret(code, x2);
	};

	if (align_bits >= 64)
		return fail(EL3_E_RMM_INVAL, "E_RMM_INVAL", "alignment of 2^" + std::to_string(align_bits) + " bytes is not representable");
	if ((x2 & ((uint64_t{1} << 56) - 2)) != 0)
		return fail(EL3_E_RMM_INVAL, "E_RMM_INVAL", "x2 bits [55:1] are reserved and must be zero");
	const bool after_boot = m.after_boot(c.cpu);
	if (after_boot) {
		if (m.options.strict_boot)
			return fail(EL3_E_RMM_UNK, "E_RMM_UNK", "cpu " + std::to_string(c.cpu) + " has completed its boot (--strict-boot)");
		spdlog::warn("cpu{} RMM_RESERVE_MEMORY after RMM_BOOT_COMPLETE: allowed, as TF-A does", c.cpu);
	}
	const AllocOutcome r = m.allocator.allocate(AllocRequest{.size = size,
	                                                         .align_bits = align_bits,
	                                                         .id = 0,
	                                                         .cpu = c.cpu,
	                                                         .activation = m.boot.activation(),
	                                                         .after_boot_complete = after_boot,
	                                                         .local_cpu = local_cpu});
	if (r.status != AllocStatus::Fresh) {
		if (r.status == AllocStatus::StorageError || r.status == AllocStatus::LogFull)
			spdlog::error("cpu{} RMM_RESERVE_MEMORY: {}", c.cpu, r.detail);
		return fail(EL3_E_RMM_NOMEM, "E_RMM_NOMEM", r.detail);
	}
	spdlog::info("cpu{} RMM_RESERVE_MEMORY(size={:#x}, align=2^{}{}) -> {:#x}", c.cpu, size, align_bits,
	             local_cpu ? ", local" : "", r.addr);
	c.effect([&] { return "region " + hex(r.addr) + "+" + hex(size) + " reserved"; });
	c.ret(EL3_E_RMM_OK, r.addr);
}

}  // namespace el3d
