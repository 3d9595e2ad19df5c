// RMM_ALLOCATE_MEMORY (seed ABI), FID 0xC40001B7.
//
//   Inputs   x1        size in bytes
//            x2[31:24] alignment, log2 of bytes (16 = 64 KiB)
//            x2[15:0]  region id: 0 = always new memory; 1.. = tagged, handed back on re-request
//            x2, other bits: ignored, as the seed's code ignores them (el3d logs a warning)
//   Outputs  x0        1 for newly allocated (zeroed) memory, E_RMM_OK for an existing tagged
//                      region returned with its content, or an error
//            x1        physical address; on failure the caller's x2, as the seed leaves it
//   Failure conditions, in order of checking:
//            E_RMM_INVAL  region id >= region slots; alignment >= 64 (el3d: the seed's shift is undefined)
//            E_RMM_UNK    --strict-boot and this CPU has completed its boot
//            E_RMM_NOMEM  tagged region exists but is smaller than requested; the request does not
//                         fit above RMM_PAYLOAD_LIMIT (el3d: also when size exceeds what is left,
//                         where the seed's arithmetic wraps); the allocation log is full
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

namespace {
constexpr uint64_t kDefinedX2Bits = (EL3_ALLOC_X2_ALIGN_MASK << EL3_ALLOC_X2_ALIGN_SHIFT) | EL3_ALLOC_X2_ID_MASK;
}

void handle_allocate_memory(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t size = c.x(1);
	const uint64_t x2 = c.x(2);
	const auto align_bits = static_cast<unsigned>((x2 >> EL3_ALLOC_X2_ALIGN_SHIFT) & EL3_ALLOC_X2_ALIGN_MASK);
	const auto id = static_cast<uint32_t>(x2 & EL3_ALLOC_X2_ID_MASK);
	const Geometry& g = m.carveout->geometry();
	auto fail = [&](int64_t code, const std::string& why) {
		spdlog::info("cpu{} RMM_ALLOCATE_MEMORY(size={:#x}, x2={:#x}) -> {}: {}", c.cpu, size, x2,
		             code == EL3_E_RMM_INVAL ? "E_RMM_INVAL" : code == EL3_E_RMM_UNK ? "E_RMM_UNK" : "E_RMM_NOMEM", why);
		c.ret(code, x2);
	};

	if (id >= g.region_slots)
		return fail(EL3_E_RMM_INVAL, "region id " + std::to_string(id) + " is not below the " +
		                             std::to_string(g.region_slots) + " region slots");
	if (align_bits >= 64)
		return fail(EL3_E_RMM_INVAL, "alignment of 2^" + std::to_string(align_bits) + " bytes is not representable");
	if ((x2 & ~kDefinedX2Bits) != 0)
		spdlog::warn("cpu{} RMM_ALLOCATE_MEMORY(size={:#x}, x2={:#x}): x2 bits {:#x} are outside [31:24] and [15:0] and "
		             "ignored, as the seed does (an RMM built for RMM_RESERVE_MEMORY's encoding sends alignment in "
		             "[63:56] and LOCAL_CPU in bit 0)",
		             c.cpu, size, x2, x2 & ~kDefinedX2Bits);

	const bool after_boot = m.after_boot(c.cpu);
	if (after_boot) {
		if (m.options.strict_boot)
			return fail(EL3_E_RMM_UNK, "cpu " + std::to_string(c.cpu) + " has completed its boot (--strict-boot)");
		spdlog::warn("cpu{} RMM_ALLOCATE_MEMORY after RMM_BOOT_COMPLETE: allowed, as TF-A does, but allocations "
		             "are meant for boot time",
		             c.cpu);
	}

	const AllocOutcome r = m.allocator.allocate(AllocRequest{.size = size,
	                                                         .align_bits = align_bits,
	                                                         .id = id,
	                                                         .cpu = c.cpu,
	                                                         .activation = m.boot.activation(),
	                                                         .after_boot_complete = after_boot});
	switch (r.status) {
	case AllocStatus::Fresh:
		spdlog::info("cpu{} RMM_ALLOCATE_MEMORY(size={:#x}, align=2^{}, id={}) -> new region at {:#x}", c.cpu, size,
		             align_bits, id, r.addr);
		c.effect([&] { return "region id=" + std::to_string(id) + " " + hex(r.addr) + "+" + hex(size) + " fresh"; });
		return c.ret(EL3_ALLOC_FRESH, r.addr);
	case AllocStatus::Existing:
		spdlog::info("cpu{} RMM_ALLOCATE_MEMORY(size={:#x}, id={}) -> existing region at {:#x}", c.cpu, size, id,
		             r.addr);
		c.effect([&] { return "region id=" + std::to_string(id) + " " + hex(r.addr) + " handed back"; });
		return c.ret(EL3_E_RMM_OK, r.addr);
	case AllocStatus::StorageError:
	case AllocStatus::LogFull:
		spdlog::error("cpu{} RMM_ALLOCATE_MEMORY: {}", c.cpu, r.detail);
		return fail(EL3_E_RMM_NOMEM, r.detail);
	case AllocStatus::TooLarge:
	case AllocStatus::NoSpace:
		return fail(EL3_E_RMM_NOMEM, r.detail);
	}
}

}  // namespace el3d
