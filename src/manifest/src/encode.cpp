// Boot Manifest encoding: the byte image EL3 leaves in the shared page.
#include "layout.hpp"

#include "el3d/manifest/manifest.hpp"
#include "el3d/util/numbers.hpp"

#include <algorithm>
#include <stdexcept>

namespace el3d::manifest {

namespace {

using namespace layout;

struct Counts {
	std::size_t ports = 0, bdfs = 0;
};

Counts count_pcie(const Spec& s)
{
	Counts c;
	for (const auto& rc : s.root_complexes) {
		c.ports += rc.ports.size();
		for (const auto& rp : rc.ports)
			c.bdfs += rp.bdfs.size();
	}
	return c;
}

// Appends arrays after the core struct and turns page offsets into physical addresses.
class Writer {
public:
	Writer(std::vector<uint8_t>& page, uint64_t pa) : page_(page), pa_(pa) {}

	// Reserves `bytes` at the current end; returns the offset.
	std::size_t take(std::size_t bytes)
	{
		const std::size_t off = next_;
		next_ += bytes;
		return off;
	}
	uint64_t pa(std::size_t off) const { return pa_ + off; }
	uint8_t* at(std::size_t off) { return page_.data() + off; }

private:
	std::vector<uint8_t>& page_;
	uint64_t pa_;
	std::size_t next_ = kCoreSize;
};

// Fills a {num, ptr, checksum} header for an array of `num` elements at `off`. An empty list is {0, NULL, 0}, not a
// checksum over a NULL pointer, because that is what TF-RMM accepts as "absent".
void seal_list(Writer& w, std::size_t header, uint64_t num, std::size_t off, std::size_t bytes)
{
	uint8_t* h = w.at(header);
	if (num == 0) {
		store64(h + kListNum, 0);
		store64(h + kListPtr, 0);
		store64(h + kListChecksum, 0);
		return;
	}
	const uint64_t ptr = w.pa(off);
	const uint64_t sum = num + ptr + word_sum(w.at(off), bytes);
	store64(h + kListNum, num);
	store64(h + kListPtr, ptr);
	store64(h + kListChecksum, ~sum + 1);  // two's complement: the whole list then sums to 0 mod 2^64
}

void write_banks(Writer& w, std::size_t header, const std::vector<Bank>& banks)
{
	const std::size_t bytes = banks.size() * kBankSize;
	const std::size_t off = w.take(bytes);
	for (std::size_t i = 0; i < banks.size(); ++i) {
		store64(w.at(off + i * kBankSize + kBankBase), banks[i].base);
		store64(w.at(off + i * kBankSize + kBankSz), banks[i].size);
	}
	seal_list(w, header, banks.size(), off, bytes);
}

std::size_t checksum_offset(Fault f)
{
	switch (f) {
	case Fault::DramChecksum: return kDram + kListChecksum;
	case Fault::ConsoleChecksum: return kConsole + kListChecksum;
	case Fault::NcohChecksum: return kNcoh + kListChecksum;
	case Fault::CohChecksum: return kCoh + kListChecksum;
	case Fault::SmmuChecksum: return kSmmu + kListChecksum;
	case Fault::RootComplexChecksum: return kRootComplex + kRcListChecksum;
	default: return 0;
	}
}

}  // namespace

std::size_t encoded_size(const Spec& s)
{
	const Counts c = count_pcie(s);
	return kCoreSize + (s.dram.size() + s.ncoh.size() + s.coh.size()) * kBankSize +
	       s.consoles.size() * kConsoleSize + s.smmus.size() * kSmmuSize + s.root_complexes.size() * kRcSize +
	       c.ports * kRootPortSize + c.bdfs * kBdfSize;
}

std::vector<uint8_t> build_manifest(const Spec& in, const std::vector<Fault>& faults, const FaultParams& params,
                                    uint64_t shared_pa, std::size_t capacity)
{
	if (shared_pa % 8 != 0)
		throw std::invalid_argument("shared page PA " + hex(shared_pa) + " is not 8-byte aligned");
	const Spec s = apply_data_faults(in, faults, params);
	const std::size_t need = encoded_size(s);
	if (need > capacity)
		throw std::length_error("the Boot Manifest needs " + std::to_string(need) +
		                        " bytes, the shared buffer has " + std::to_string(capacity));
	if (shared_pa > UINT64_MAX - capacity)
		throw std::invalid_argument("shared page PA " + hex(shared_pa) + " + its size wraps past 2^64");
	for (const auto& c : s.consoles)
		if (c.name.size() > kConsoleNameMax)
			throw std::length_error("console name '" + c.name + "' is longer than " +
			                        std::to_string(kConsoleNameMax) + " characters");

	std::vector<uint8_t> page(capacity, 0);
	Writer w(page, shared_pa);

	store<uint32_t>(w.at(kVersion), s.version);
	store<uint32_t>(w.at(kPadding), 0);
	store64(w.at(kPlatData), s.plat_data);

	// Arrays in TF-A's order: DRAM, consoles, ncoh, coh, SMMUs, RC infos, root ports, BDF mappings.
	write_banks(w, kDram, s.dram);

	{
		const std::size_t bytes = s.consoles.size() * kConsoleSize;
		const std::size_t off = w.take(bytes);
		for (std::size_t i = 0; i < s.consoles.size(); ++i) {
			const Console& c = s.consoles[i];
			uint8_t* e = w.at(off + i * kConsoleSize);
			store64(e + kConBase, c.base);
			store64(e + kConMapPages, c.map_pages);
			std::copy(c.name.begin(), c.name.end(), e + kConName);  // NUL padding is already there
			store64(e + kConClk, c.clk_in_hz);
			store64(e + kConBaud, c.baud_rate);
			store64(e + kConFlags, c.flags);
		}
		seal_list(w, kConsole, s.consoles.size(), off, bytes);
	}

	write_banks(w, kNcoh, s.ncoh);
	write_banks(w, kCoh, s.coh);

	{
		const std::size_t bytes = s.smmus.size() * kSmmuSize;
		const std::size_t off = w.take(bytes);
		for (std::size_t i = 0; i < s.smmus.size(); ++i) {
			store64(w.at(off + i * kSmmuSize + kSmmuBase), s.smmus[i].base);
			store64(w.at(off + i * kSmmuSize + kSmmuRBase), s.smmus[i].r_base);
		}
		seal_list(w, kSmmu, s.smmus.size(), off, bytes);
	}

	{
		// Three consecutive arrays: all RC infos, then all root ports, then all BDF mappings. The checksum
		// covers the whole block, as TF-A computes it.
		const Counts c = count_pcie(s);
		const std::size_t rc_off = w.take(s.root_complexes.size() * kRcSize);
		std::size_t rp_off = w.take(c.ports * kRootPortSize);
		std::size_t bdf_off = w.take(c.bdfs * kBdfSize);
		const std::size_t block_end = bdf_off + c.bdfs * kBdfSize;
		for (std::size_t i = 0; i < s.root_complexes.size(); ++i) {
			const RootComplex& rc = s.root_complexes[i];
			uint8_t* e = w.at(rc_off + i * kRcSize);
			store64(e + kRcEcam, rc.ecam_base);
			store<uint8_t>(e + kRcSegment, rc.segment);
			store<uint32_t>(e + kRcNumPorts, static_cast<uint32_t>(rc.ports.size()));
			store64(e + kRcPorts, rc.ports.empty() ? 0 : w.pa(rp_off));
			for (const RootPort& rp : rc.ports) {
				uint8_t* p = w.at(rp_off);
				store<uint16_t>(p + kRpId, rp.id);
				store<uint32_t>(p + kRpNumBdfs, static_cast<uint32_t>(rp.bdfs.size()));
				store64(p + kRpBdfs, rp.bdfs.empty() ? 0 : w.pa(bdf_off));
				for (const BdfMapping& b : rp.bdfs) {
					uint8_t* m = w.at(bdf_off);
					store<uint16_t>(m + kBdfBase, b.base);
					store<uint16_t>(m + kBdfTop, b.top);
					store<uint16_t>(m + kBdfOff, b.off);
					store<uint16_t>(m + kBdfSmmuIdx, b.smmu_idx);
					bdf_off += kBdfSize;
				}
				rp_off += kRootPortSize;
			}
		}
		uint8_t* h = w.at(kRootComplex);
		store<uint32_t>(h + kRcListVersion, s.rc_info_version);
		if (s.root_complexes.empty()) {
			// {0, NULL, 0}; the version is still written, as TF-A does.
			store64(h + kRcListNum, 0);
			store64(h + kRcListPtr, 0);
			store64(h + kRcListChecksum, 0);
		} else {
			const uint64_t num = s.root_complexes.size();
			const uint64_t ptr = w.pa(rc_off);
			const uint64_t sum = num + ptr + word_sum(w.at(rc_off), block_end - rc_off);
			store64(h + kRcListNum, num);
			store64(h + kRcListPtr, ptr);
			store64(h + kRcListChecksum, ~sum + 1);
		}
	}

	// Checksum faults last, on the finished bytes.
	for (Fault f : faults) {
		const std::size_t off = checksum_offset(f);
		if (off != 0)
			store64(w.at(off), load64(w.at(off)) + 1);
	}
	return page;
}

}  // namespace el3d::manifest
