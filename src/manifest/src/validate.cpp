// Reading a Boot Manifest back the way an RMM does, to say why it would refuse to boot.
#include "layout.hpp"

#include "el3d/manifest/manifest.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <algorithm>

namespace el3d::manifest {

namespace {

using namespace layout;

std::string version_str(uint64_t v)
{
	return std::to_string(version_major(v)) + "." + std::to_string(version_minor(v)) + " (" + hex(v) + ")";
}

class Checker {
public:
	Checker(std::span<const uint8_t> page, uint64_t pa, unsigned pa_bits) : page_(page), pa_(pa), pa_bits_(pa_bits)
	{
	}

	Validation result;

	// One problem per kind: the first occurrence is the informative one.
	void add(const std::string& kind, int64_t code, std::string message)
	{
		if (!result.has(kind))
			result.problems.push_back({kind, code, std::move(message)});
	}
	void data_error(const std::string& kind, std::string message)
	{
		add(kind, EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, std::move(message));
	}

	uint64_t u64(std::size_t off) const { return load64(page_.data() + off); }
	uint32_t u32(std::size_t off) const { return load<uint32_t>(page_.data() + off); }
	uint16_t u16(std::size_t off) const { return load<uint16_t>(page_.data() + off); }

	// The page offset of an array of `bytes` at physical address `ptr`, if it lies wholly in the page and is 8-byte
	// aligned (the RMM reads it as u64 words).
	std::optional<std::size_t> locate(uint64_t ptr, uint64_t bytes) const
	{
		if (ptr < pa_ || ptr % 8 != 0)
			return std::nullopt;
		const uint64_t off = ptr - pa_;
		if (off > page_.size() || bytes > page_.size() - off)
			return std::nullopt;
		return static_cast<std::size_t>(off);
	}
	std::string where(uint64_t ptr, uint64_t bytes) const
	{
		return hex(ptr) + " (+" + std::to_string(bytes) +
		       " bytes) is not 8-byte aligned inside the shared page [" + hex(pa_) + ", " +
		       hex(pa_ + page_.size()) + ")";
	}

	// The {num, ptr, checksum} triple at `header` for an array of `elem`-byte entries. Returns the array's offset
	// if there is one to read, after reporting checksum and pointer problems.
	std::optional<std::size_t> list(std::size_t header, const std::string& name, std::size_t elem, bool required)
	{
		const uint64_t num = u64(header + kListNum);
		const uint64_t ptr = u64(header + kListPtr);
		const uint64_t csum = u64(header + kListChecksum);
		if (num == 0 && ptr == 0) {
			if (required)
				data_error(name + "-none", "no " + name + " banks (num_banks 0, NULL pointer)");
			else if (csum != 0)
				data_error(name + "-checksum",
				           "empty list with checksum " + hex(csum) + " instead of 0");
			return std::nullopt;
		}
		if (num == 0 || ptr == 0) {
			data_error(name + "-pointer", "num " + std::to_string(num) + " with pointer " + hex(ptr) +
			                                  ": both must be zero or neither");
			return std::nullopt;
		}
		if (num > page_.size() / elem) {
			data_error(name + "-pointer",
			           "num " + std::to_string(num) + " entries cannot fit in the shared page");
			return std::nullopt;
		}
		const auto off = locate(ptr, num * elem);
		if (!off) {
			data_error(name + "-pointer", "array at " + where(ptr, num * elem));
			return std::nullopt;
		}
		const uint64_t sum = num + ptr + csum + word_sum(page_.data() + *off, num * elem);
		if (sum != 0)
			data_error(name + "-checksum",
			           "checksum " + hex(csum) + " leaves a sum of " + hex(sum) + ", not 0");
		return off;
	}

	// DRAM banks and device ranges: rmm_el3_ifc's get_memory_data_validated_pa().
	void banks(std::size_t header, const std::string& name, bool required, std::size_t max_banks)
	{
		const auto off = list(header, name, kBankSize, required);
		if (!off)
			return;
		const uint64_t num = u64(header + kListNum);
		if (num > max_banks)
			data_error(name + "-too-many", std::to_string(num) + " banks, more than the RMM's limit of " +
			                                   std::to_string(max_banks));
		const uint64_t limit = pa_bits_ >= 64 ? UINT64_MAX : (uint64_t{1} << pa_bits_) - 1;  // last valid PA
		bool have_prev = false;
		uint64_t prev_base = 0, prev_last = 0;
		for (uint64_t i = 0; i < num; ++i) {
			const uint64_t base = u64(*off + i * kBankSize + kBankBase);
			const uint64_t size = u64(*off + i * kBankSize + kBankSz);
			const std::string bank =
			    name + " bank " + std::to_string(i) + " {" + hex(base) + ", " + hex(size) + "}";
			if (base == 0)
				data_error(name + "-zero-base", bank + ": base 0");
			if (size == 0) {
				data_error(name + "-zero-size", bank + ": size 0");
				continue;  // no extent to order or bound
			}
			if (((base | size) & (kPageSize - 1)) != 0)
				data_error(name + "-unaligned", bank + ": base and size must be 4 KiB aligned");
			const bool wraps = base > UINT64_MAX - (size - 1);
			const uint64_t last = base + (size - 1);
			if (wraps || last > limit)
				data_error(name + "-above-pa", bank + ": ends above the " + std::to_string(pa_bits_) +
				                                   "-bit physical address space");
			if (have_prev) {
				if (base < prev_base)
					data_error(name + "-unsorted", bank + ": below the previous bank at " +
					                                   hex(prev_base) +
					                                   " (banks must be ascending)");
				else if (base <= prev_last)
					data_error(name + "-overlap",
					           bank + ": starts inside the previous bank, which ends at " +
					               hex(prev_last + 1));
			}
			have_prev = true;
			prev_base = base;
			prev_last = wraps ? UINT64_MAX : last;
		}
	}

	// The root-complex list: three arrays (RC infos, root ports, BDF mappings) covered by one checksum over the
	// block from root_complex[] to the end of the last array.
	void root_complexes()
	{
		const std::size_t h = kRootComplex;
		const std::string name = "root-complex";
		const uint64_t num = u64(h + kRcListNum);
		const uint64_t ptr = u64(h + kRcListPtr);
		const uint64_t csum = u64(h + kRcListChecksum);
		if (num == 0 && ptr == 0) {
			if (csum != 0)
				data_error(name + "-checksum",
				           "empty list with checksum " + hex(csum) + " instead of 0");
			return;
		}
		if (num == 0 || ptr == 0) {
			data_error(name + "-pointer", "num_root_complex " + std::to_string(num) + " with pointer " +
			                                  hex(ptr) + ": both must be zero or neither");
			return;
		}
		if (num > page_.size() / kRcSize) {
			data_error(name + "-pointer",
			           std::to_string(num) + " root complexes cannot fit in the shared page");
			return;
		}
		const auto rc_off = locate(ptr, num * kRcSize);
		if (!rc_off) {
			data_error(name + "-pointer", "root_complex[] at " + where(ptr, num * kRcSize));
			return;
		}
		std::size_t block_end = *rc_off + num * kRcSize;
		// A nested array must lie in the block after root_complex[], or the checksum could not cover it.
		auto nested = [&](uint64_t p, uint64_t bytes, const std::string& what) -> std::optional<std::size_t> {
			const auto o = locate(p, bytes);
			if (!o || *o < *rc_off) {
				data_error(
				    name + "-pointer",
				    what + " at " +
				        (o ? hex(p) + " lies before root_complex[] at " + hex(ptr) : where(p, bytes)));
				return std::nullopt;
			}
			block_end = std::max(block_end, *o + static_cast<std::size_t>(bytes));
			return o;
		};
		bool complete = true;
		for (uint64_t i = 0; i < num; ++i) {
			const std::size_t rc = *rc_off + i * kRcSize;
			const uint32_t nports = u32(rc + kRcNumPorts);
			const uint64_t pports = u64(rc + kRcPorts);
			if (nports == 0 || pports == 0)
				continue;  // the RMM treats either as "no root ports"
			const std::string rcname = "root_complex[" + std::to_string(i) + "]";
			const auto rp_off = nested(pports, uint64_t{nports} * kRootPortSize, rcname + ".root_ports");
			if (!rp_off) {
				complete = false;
				continue;
			}
			for (uint32_t j = 0; j < nports; ++j) {
				const std::size_t rp = *rp_off + j * kRootPortSize;
				const uint32_t nbdf = u32(rp + kRpNumBdfs);
				const uint64_t pbdf = u64(rp + kRpBdfs);
				if (nbdf == 0 || pbdf == 0)
					continue;
				if (!nested(pbdf, uint64_t{nbdf} * kBdfSize,
				            rcname + ".root_ports[" + std::to_string(j) + "].bdf_mappings"))
					complete = false;
			}
		}
		if (!complete)
			return;  // the block is not known, so neither is the checksum
		const uint64_t sum = num + ptr + csum + word_sum(page_.data() + *rc_off, block_end - *rc_off);
		if (sum != 0)
			data_error(name + "-checksum", "checksum " + hex(csum) + " leaves a sum of " + hex(sum) +
			                                   " over num, pointer and the " +
			                                   std::to_string(block_end - *rc_off) +
			                                   "-byte block of RC, root-port and BDF arrays, not 0");
	}

private:
	std::span<const uint8_t> page_;
	uint64_t pa_;
	unsigned pa_bits_;
};

}  // namespace

bool Validation::has(std::string_view kind) const
{
	return std::any_of(problems.begin(), problems.end(), [&](const Problem& p) { return p.kind == kind; });
}

std::string Validation::describe() const
{
	std::string out;
	for (const auto& p : problems)
		out += p.kind + ": " + p.message + "\n";
	return out;
}

Validation validate_manifest(std::span<const uint8_t> page, uint64_t shared_pa, unsigned pa_bits,
                             std::size_t max_dram_banks)
{
	Checker c(page, shared_pa, pa_bits);
	if (page.size() < kCoreSize) {
		c.data_error("manifest-size", "the page holds " + std::to_string(page.size()) +
		                                  " bytes, less than the " + std::to_string(kCoreSize) +
		                                  "-byte core struct");
		return std::move(c.result);
	}
	// rmm_el3_ifc_process_boot_manifest(): an incompatible version stops the RMM before it reads anything else.
	const uint32_t version = c.u32(kVersion);
	if ((version & 0x80000000u) != 0 || version_major(version) != version_major(kMinManifestVersion) ||
	    version_minor(version) < version_minor(kMinManifestVersion)) {
		c.add("manifest-version", EL3_E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED,
		      "version " + version_str(version) + ": the RMM needs major " +
		          std::to_string(version_major(kMinManifestVersion)) + ", minor at least " +
		          std::to_string(version_minor(kMinManifestVersion)));
		return std::move(c.result);
	}
	// TF-RMM plat/arm reads the console list first, then DRAM, then the device ranges; SMMUs and root complexes
	// are copied into its cache from v0.5 on.
	c.list(kConsole, "console", kConsoleSize, false);
	c.banks(kDram, "dram", true, max_dram_banks);
	if (version >= make_version(0, 4)) {
		c.banks(kNcoh, "ncoh", false, SIZE_MAX);
		c.banks(kCoh, "coh", false, SIZE_MAX);
	}
	if (version >= make_version(0, 5)) {
		c.list(kSmmu, "smmu", kSmmuSize, false);
		c.root_complexes();
	}
	return std::move(c.result);
}

Validation validate_boot_args(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3, uint32_t rmm_version)
{
	Validation v;
	// IS_RMM_EL3_IFC_COMPATIBLE: same major, EL3's minor at least the RMM's. The version is a 32-bit value with
	// bit 31 RES0; anything above that cannot be a version.
	if (x1 > 0x7FFFFFFF || version_major(x1) != version_major(rmm_version) ||
	    version_minor(x1) < version_minor(rmm_version))
		v.problems.push_back(
		    {"interface-version", EL3_E_RMM_BOOT_VERSION_NOT_VALID,
		     "x1 " + version_str(x1) + " is not compatible with the RMM's " + version_str(rmm_version)});
	if (x2 > kRmmMaxCpus)
		v.problems.push_back(
		    {"cpu-count", EL3_E_RMM_BOOT_CPUS_OUT_OF_RANGE,
		     "x2 " + std::to_string(x2) + " CPUs, more than the RMM's " + std::to_string(kRmmMaxCpus)});
	if (x0 >= x2)
		v.problems.push_back({"cpu-id", EL3_E_RMM_BOOT_CPU_ID_OUT_OF_RANGE,
		                      "x0 CPU index " + std::to_string(x0) + " is not below x2 " + std::to_string(x2)});
	if (x3 == 0 || (x3 & (kPageSize - 1)) != 0)
		v.problems.push_back({"shared-buffer-misaligned", EL3_E_RMM_BOOT_INVALID_SHARED_BUFFER,
		                      "x3 shared buffer " + hex(x3) + " must be non-zero and 4 KiB aligned"});
	return v;
}

}  // namespace el3d::manifest
