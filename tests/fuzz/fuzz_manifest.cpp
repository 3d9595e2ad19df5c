// fuzz_manifest: the Boot Manifest validator and decoder (src/manifest: validate.cpp, decode.cpp) that `el3ctl
// manifest` and the tests run on a shared page an RMM or a fault left. The first bytes choose the page's physical
// address, the PA size and the DRAM bank limit; the rest is the page. Neither may read outside the page; a page the
// validator accepts (at the current manifest version, where every list is read) decodes; a decoded page prints as
// JSON (el3ctl manifest --json) and, encoded again, decodes to the same manifest.
#include "fuzz_common.hpp"

#include "el3d/manifest/boot_config.hpp"
#include "el3d/manifest/manifest.hpp"

#include <stdexcept>
#include <vector>

using namespace el3d;
using namespace el3d::fuzz;
using namespace el3d::manifest;

namespace {
bool decodes(std::span<const uint8_t> page, uint64_t pa, Spec& out)
{
	try {
		out = decode_manifest(page, pa);
		return true;
	} catch (const std::invalid_argument&) {
		return false;
	}
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	Input in(data, size);
	const uint64_t pas[] = {0xFFBFF000, 0x418FF000, 0x10042FFF000, 0, 0x1000, ~uint64_t{0} & ~uint64_t{0xFFF},
	                        0xFFBFF008, 0xFFBFF001};
	const uint64_t pa = in.pick_from(pas);
	const unsigned pa_bits_table[] = {40, 42, 32, 48, 52, 64, 0};
	const unsigned pa_bits = in.pick_from(pa_bits_table);
	const std::size_t max_banks = in.pick(4) == 0 ? in.u8() : kRmmMaxDramBanks;
	// The page as a heap block of exactly its size, so that AddressSanitizer sees any read past it.
	const auto rest = in.rest();
	const std::vector<uint8_t> page(rest.begin(), rest.end());

	const Validation v = validate_manifest(page, pa, pa_bits, max_banks);
	(void)v.describe();
	Spec spec;
	const bool ok = decodes(page, pa, spec);
	if (v.ok() && page.size() >= kCoreSize) {
		uint32_t version = 0;
		for (unsigned i = 0; i < 4; ++i)
			version |= static_cast<uint32_t>(page[i]) << (8 * i);
		if (version == kManifestVersion)
			check(ok, "a manifest validate_manifest() accepts cannot be decoded");
	}
	if (!ok)
		return 0;
	(void)encoded_size(spec);
	// What `el3ctl manifest --json` prints of it.
	BootConfig shown;
	shown.manifest = spec;
	(void)to_json(shown);
	std::vector<uint8_t> again;
	try {
		again = build_manifest(spec, {}, {}, pa);
	} catch (const std::length_error&) {
		return 0;  // e.g. a console name of 8 characters, or more entries than a page holds
	} catch (const std::invalid_argument&) {
		return 0;  // an unaligned page address
	}
	Spec round;
	check(decodes(again, pa, round), "build_manifest() of a decoded manifest cannot be decoded");
	check(round == spec, "a decoded manifest, encoded and decoded again, differs");
	return 0;
}
