#pragma once
// fuzz_dispatch's choices of SMC arguments: the values where el3d's checks change their answer (carveout and
// payload limits, the shared page, DRAM, device windows and fixed-PAS memory, the edge of the PA space, sizes
// around what is left, alignments around 64) more often than uniformly random ones.
#include "dispatch_model.hpp"
#include "fuzz_common.hpp"

#include "el3d/smc.h"

namespace el3d::fuzz {

// Granule `k` (wrapped) of one of `ranges`, or its last granule; 0 if there is none.
inline uint64_t granule_of(Input& in, const std::vector<GptRange>& ranges)
{
	if (ranges.empty())
		return 0;
	const GptRange& r = ranges[in.pick(ranges.size())];
	const uint64_t n = r.size / kGranule;
	const uint16_t k = in.u16();
	if (k == 0xFFFF)
		return r.end() - kGranule;
	return r.base + (k % n) * kGranule;
}

inline uint64_t pick_pa(Input& in, const Model& m)
{
	const Geometry& g = m.geometry();
	uint64_t pa = 0;
	switch (in.pick(10)) {
	case 0: pa = g.rmm_base + (in.u16() % (g.image_size() / kGranule)) * kGranule; break;
	case 1: pa = m.top() + static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(in.u8())) * 0x1000); break;
	case 2:
		if (!m.regions().empty())
			pa = m.regions()[in.pick(m.regions().size())].addr + (in.u8() & 0xF) * kGranule;
		break;
	case 3: pa = g.shared_base() + (in.flag() ? in.u16() % kGranule : 0); break;
	case 4: pa = granule_of(in, m.tracked()); break;
	case 5: pa = granule_of(in, m.device()); break;
	case 6: pa = granule_of(in, m.fixed()); break;
	case 7: {
		const uint64_t space = uint64_t{1} << g.pa_bits;
		const uint64_t edges[] = {space - 2 * kGranule, space - kGranule, space, 0, ~uint64_t{0} & ~(kGranule - 1),
		                          g.payload_limit - kGranule, g.payload_limit, g.rmm_limit - kGranule};
		pa = in.pick_from(edges);
		break;
	}
	case 8:
		if (!m.changed().empty()) {
			auto it = m.changed().begin();
			std::advance(it, in.pick(std::min<std::size_t>(m.changed().size(), 32)));
			pa = it->first;
		}
		break;
	default: pa = in.u64(); break;
	}
	if (in.pick(8) == 0)
		pa += 1 + in.u8();  // misaligned
	return pa;
}

inline uint64_t pick_size(Input& in, const Model& m)
{
	const uint64_t left = m.top() - m.geometry().payload_limit;
	const uint64_t sizes[] = {0,       1,         0xFFF,        0x1000,       0x1001,       0x2000,
	                          0x10000, 0x200000,  left,         left + 1,     left - 0x1000, ~uint64_t{0},
	                          uint64_t{1} << 63,  0x4000,       0x3000,       0x8000};
	switch (in.pick(4)) {
	case 0: return in.pick_from(sizes);
	case 1: return uint64_t{in.u8()} * kGranule;
	case 2: return in.u16();
	default: return in.flag() ? in.pick_from(sizes) : in.u64();
	}
}

inline unsigned pick_align(Input& in)
{
	const unsigned aligns[] = {0, 1, 3, 12, 12, 12, 13, 16, 21, 30, 63, 64, 65, 200, 255};
	return in.flag() ? in.pick_from(aligns) : in.u8();
}

inline uint32_t pick_cpu(Input& in, const Model& m)
{
	const uint32_t n = m.geometry().core_count;
	const uint32_t cpus[] = {0, 0, 0, 1, 1, 2, 3, n - 1, n, n + 1, 0xFFFFFFFFu};
	return in.pick(8) == 0 ? in.u32() : in.pick_from(cpus);
}

// x2 of RMM_ALLOCATE_MEMORY (seed: alignment [31:24], id [15:0]) or RMM_RESERVE_MEMORY (tfa: alignment [63:56],
// LOCAL_CPU bit 0, [55:1] reserved).
inline uint64_t pick_alloc_x2(Input& in, bool seed)
{
	const uint64_t align = pick_align(in);
	if (seed) {
		const uint32_t ids[] = {0, 1, 2, 3, 4, 5, 7, 0xFFFF};
		uint64_t x2 = EL3_ALLOC_X2(align, in.flag() ? in.pick_from(ids) : in.u16());
		if (in.pick(16) == 0)
			x2 |= in.u64() & ~((uint64_t{0xFF} << 24) | 0xFFFF);  // ignored bits
		return x2;
	}
	uint64_t x2 = (align << 56) | (in.u8() & 1);
	if (in.pick(16) == 0)
		x2 |= uint64_t{1} << (1 + in.pick(55));  // a reserved bit
	return x2;
}

// Every FID el3d knows of (include/el3d/smc.h), and the same numbers in the forms the dispatch entry normalises
// or refuses.
inline uint64_t pick_fid(Input& in)
{
	static constexpr uint32_t kFids[] = {
	    EL3_FID_RMM_GTSI_DELEGATE, EL3_FID_RMM_GTSI_UNDELEGATE, EL3_FID_RMM_ATTEST_GET_REALM_KEY,
	    EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, EL3_FID_RMM_EL3_FEATURES, EL3_FID_RMM_EL3_TOKEN_SIGN,
	    EL3_FID_RMM_MEC_REFRESH, EL3_FID_RMM_ALLOCATE_MEMORY, EL3_FID_RMM_RESERVE_MEMORY, EL3_FID_RMM_BOOT_COMPLETE,
	    0xC40001B8, 0xC40001BA, 0xC40001CE,
	    EL3_FID_FIRME_BASE_VERSION, EL3_FID_FIRME_BASE_FEATURES, EL3_FID_FIRME_GM_GPI_SET,
	    EL3_FID_FIRME_IDE_KEYSET_PROG, EL3_FID_FIRME_IDE_KEYSET_GO, EL3_FID_FIRME_IDE_KEYSET_STOP,
	    EL3_FID_FIRME_IDE_KEYSET_POLL, EL3_FID_FIRME_MEC_REFRESH, EL3_FID_FIRME_ATTEST_PAT_GET,
	    EL3_FID_FIRME_GM_L1_GPT_CREATE, EL3_FID_FIRME_GM_GPI_OP_CONTINUE, 0xC4000413,
	    EL3_FID_SMCCC_VERSION, EL3_FID_SMCCC_ARCH_FEATURES, EL3_FID_SMCCC_ARCH_SOC_ID,
	    EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY, EL3_FID_SMCCC_ARCH_WORKAROUND_1, EL3_FID_SMCCC_ARCH_WORKAROUND_2,
	    EL3_FID_SMCCC_ARCH_WORKAROUND_3, EL3_FID_SMCCC_ARCH_WORKAROUND_4, 0x84000000, 0xC4000000};
	uint64_t fid = in.pick_from(kFids);
	switch (in.pick(16)) {
	case 0: fid |= 1u << 16; break;                              // SVE hint: ignored
	case 1: fid |= uint64_t{1 + in.pick(0x7F)} << 17; break;     // MBZ bits: SMC_UNK
	case 2: fid &= ~(uint64_t{1} << 30); break;                  // the SMC32 form
	case 3: fid |= uint64_t{in.u32()} << 32; break;              // x0's upper half is not part of the FID
	case 4: fid = in.u64(); break;
	default: break;
	}
	return fid;
}

}  // namespace el3d::fuzz
