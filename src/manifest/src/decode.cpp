// Boot Manifest decoding: from the page back to a Spec.
#include "layout.hpp"

#include "el3d/manifest/manifest.hpp"
#include "el3d/util/numbers.hpp"

#include <stdexcept>

namespace el3d::manifest {

namespace {

using namespace layout;

class Reader {
public:
	Reader(std::span<const uint8_t> page, uint64_t pa) : page_(page), pa_(pa) {}

	uint64_t u64(std::size_t off) const { return load64(page_.data() + off); }
	uint32_t u32(std::size_t off) const { return load<uint32_t>(page_.data() + off); }
	uint16_t u16(std::size_t off) const { return load<uint16_t>(page_.data() + off); }
	uint8_t u8(std::size_t off) const { return page_[off]; }

	// The page offset of `num` elements of `elem` bytes at `ptr`; throws if any of it is outside the page.
	std::size_t array(uint64_t ptr, uint64_t num, std::size_t elem, const char* what) const
	{
		if (num > page_.size() / elem || ptr < pa_ || ptr - pa_ > page_.size() - num * elem)
			throw std::invalid_argument(std::string(what) + ": " + std::to_string(num) + " entries at " +
			                            hex(ptr) + " are not inside the shared page at " + hex(pa_));
		return static_cast<std::size_t>(ptr - pa_);
	}

	std::vector<Bank> banks(std::size_t header, const char* what) const
	{
		const uint64_t num = u64(header + kListNum);
		std::vector<Bank> out;
		if (num == 0)
			return out;
		const std::size_t off = array(u64(header + kListPtr), num, kBankSize, what);
		for (uint64_t i = 0; i < num; ++i)
			out.push_back({u64(off + i * kBankSize + kBankBase), u64(off + i * kBankSize + kBankSz)});
		return out;
	}

private:
	std::span<const uint8_t> page_;
	uint64_t pa_;
};

}  // namespace

Spec decode_manifest(std::span<const uint8_t> page, uint64_t shared_pa)
{
	if (page.size() < kCoreSize)
		throw std::invalid_argument("the page is smaller than the " + std::to_string(kCoreSize) +
		                            "-byte Boot Manifest core struct");
	const Reader r(page, shared_pa);
	Spec s;
	s.version = r.u32(kVersion);
	s.plat_data = r.u64(kPlatData);
	s.dram = r.banks(kDram, "plat_dram");
	s.ncoh = r.banks(kNcoh, "plat_ncoh_region");
	s.coh = r.banks(kCoh, "plat_coh_region");

	if (const uint64_t n = r.u64(kConsole + kListNum); n != 0) {
		const std::size_t off = r.array(r.u64(kConsole + kListPtr), n, kConsoleSize, "plat_console");
		for (uint64_t i = 0; i < n; ++i) {
			const std::size_t e = off + i * kConsoleSize;
			Console c;
			c.base = r.u64(e + kConBase);
			c.map_pages = r.u64(e + kConMapPages);
			for (std::size_t k = 0; k <= kConsoleNameMax && page[e + kConName + k] != 0; ++k)
				c.name.push_back(static_cast<char>(page[e + kConName + k]));
			c.clk_in_hz = r.u64(e + kConClk);
			c.baud_rate = r.u64(e + kConBaud);
			c.flags = r.u64(e + kConFlags);
			s.consoles.push_back(std::move(c));
		}
	}

	if (const uint64_t n = r.u64(kSmmu + kListNum); n != 0) {
		const std::size_t off = r.array(r.u64(kSmmu + kListPtr), n, kSmmuSize, "plat_smmu");
		for (uint64_t i = 0; i < n; ++i)
			s.smmus.push_back(
			    {r.u64(off + i * kSmmuSize + kSmmuBase), r.u64(off + i * kSmmuSize + kSmmuRBase)});
	}

	s.rc_info_version = r.u32(kRootComplex + kRcListVersion);
	if (const uint64_t n = r.u64(kRootComplex + kRcListNum); n != 0) {
		const std::size_t off = r.array(r.u64(kRootComplex + kRcListPtr), n, kRcSize, "plat_root_complex");
		for (uint64_t i = 0; i < n; ++i) {
			const std::size_t e = off + i * kRcSize;
			RootComplex rc;
			rc.ecam_base = r.u64(e + kRcEcam);
			rc.segment = r.u8(e + kRcSegment);
			const uint32_t nports = r.u32(e + kRcNumPorts);
			const std::size_t ports =
			    nports == 0 ? 0 : r.array(r.u64(e + kRcPorts), nports, kRootPortSize, "root_ports");
			for (uint32_t j = 0; j < nports; ++j) {
				const std::size_t p = ports + j * kRootPortSize;
				RootPort rp;
				rp.id = r.u16(p + kRpId);
				const uint32_t nbdf = r.u32(p + kRpNumBdfs);
				const std::size_t bdfs =
				    nbdf == 0 ? 0 : r.array(r.u64(p + kRpBdfs), nbdf, kBdfSize, "bdf_mappings");
				for (uint32_t k = 0; k < nbdf; ++k) {
					const std::size_t b = bdfs + k * kBdfSize;
					rp.bdfs.push_back({r.u16(b + kBdfBase), r.u16(b + kBdfTop), r.u16(b + kBdfOff),
					                   r.u16(b + kBdfSmmuIdx)});
				}
				rc.ports.push_back(std::move(rp));
			}
			s.root_complexes.push_back(std::move(rc));
		}
	}
	return s;
}

}  // namespace el3d::manifest
