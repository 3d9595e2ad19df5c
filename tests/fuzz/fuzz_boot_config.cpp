// fuzz_boot_config: the boot configuration parsers (JSON with nlohmann::json, TOML with toml++) behind `el3d
// --boot-config`, `el3ctl boot --config` and the Boot/Session RPCs. The first byte chooses the format and the
// platform, the rest is the file. A file is refused with a ConfigError or accepted; an accepted one must survive a
// round trip through to_json(), and the Boot Manifest and registers it describes must be buildable or refused with
// the documented exceptions. The same text is also read as a --faults file (src/faults, through the same bounded
// reader): refused with a RuleError or accepted, and every accepted rule reads back from its own JSON form and is
// either added to an Injector (then asked once) or refused with a RuleError.
#include "fuzz_common.hpp"

#include "el3d/faults/faults.hpp"

#include "el3d/manifest/boot_config.hpp"
#include "el3d/platform/platform.hpp"

#include <string>
#include <string_view>

using namespace el3d;
using namespace el3d::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	if (size == 0)
		return 0;
	const auto fmt = (data[0] & 1) != 0 ? manifest::Format::Toml : manifest::Format::Json;
	const auto profiles = platform_profiles();
	const PlatformProfile& p = profiles[(data[0] >> 1) % profiles.size()];
	const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

	try {
		faults::Injector in((data[0] & 2) != 0 ? "tfa" : "seed");
		for (const faults::Rule& r : faults::parse_rules(text, fmt == manifest::Format::Toml)) {
			const faults::Rule again = faults::rule_from_json(faults::to_json(r), "again");
			check(faults::to_json(again) == faults::to_json(r), "a fault rule's JSON form reads back differently: " +
			                                                        faults::to_json(r).dump());
			try {
				in.add(r);
			} catch (const faults::RuleError&) {
			}
		}
		(void)in.decide(0, 0xC40001B0, {});
		(void)in.decide_entry(0);
		(void)in.list();
	} catch (const faults::RuleError&) {
	}

	manifest::BootConfig cfg;
	try {
		cfg = manifest::parse_boot_config(text, fmt, p.name);
	} catch (const manifest::ConfigError&) {
		return 0;
	}
	// What el3d prints of a configuration (status, el3ctl) reads back as the same configuration.
	const std::string json = manifest::to_json(cfg);
	try {
		const manifest::BootConfig again = manifest::parse_boot_config(json, manifest::Format::Json, p.name);
		check(again == cfg, "to_json() of an accepted configuration reads back as a different one:\n" + json);
	} catch (const manifest::ConfigError& e) {
		fail(std::string("to_json() of an accepted configuration is refused: ") + e.what() + "\n" + json);
	}
	// The cold boot that uses it: the manifest is built or refused as build_manifest documents.
	try {
		const std::vector<uint8_t> page = manifest::build_manifest(cfg, p.rmm_limit);
		check(page.size() == manifest::kPageSize, "build_manifest() returned " + std::to_string(page.size()) + " bytes");
		(void)manifest::validate_manifest(page, p.rmm_limit, p.pa_bits);
	} catch (const std::length_error&) {
	} catch (const std::invalid_argument&) {
	}
	(void)manifest::cold_boot_registers(cfg, 0x20000, p.core_count, p.rmm_limit);
	return 0;
}
