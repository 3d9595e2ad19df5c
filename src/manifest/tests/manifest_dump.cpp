// el3d_manifest_dump: writes the Boot Manifest page el3d would give the RMM, for check_manifest.py to read with
// nothing but the spec's byte offsets.
//
//   el3d_manifest_dump --platform fvp [--fault NAME]... [--config FILE] --out FILE
//
// The file: "EL3DMAN1", u64 shared page PA, u64 page size, then the page (all little-endian).
#include "el3d/manifest/boot_config.hpp"

#include "el3d/platform/platform.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

using namespace el3d;
using namespace el3d::manifest;

namespace {

int usage()
{
	std::cerr << "usage: el3d_manifest_dump --platform NAME [--fault NAME]... [--config FILE] --out FILE\n"
	          << "  platforms: " << platform_names() << "\n  faults: " << fault_names() << "\n";
	return 2;
}

void put64(std::ofstream& out, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; ++i)
		b[i] = static_cast<unsigned char>(v >> (8 * i));
	out.write(reinterpret_cast<const char*>(b), 8);
}

}  // namespace

int main(int argc, char** argv)
{
	std::string platform, config, out_path;
	std::vector<std::string> faults;
	for (int i = 1; i < argc; ++i) {
		const std::string a = argv[i];
		if (i + 1 >= argc)
			return usage();
		const std::string v = argv[++i];
		if (a == "--platform")
			platform = v;
		else if (a == "--fault")
			faults.push_back(v);
		else if (a == "--config")
			config = v;
		else if (a == "--out")
			out_path = v;
		else
			return usage();
	}
	const PlatformProfile* p = find_platform(platform);
	if (p == nullptr || out_path.empty())
		return usage();
	try {
		BootConfig c = config.empty() ? default_boot_config(platform) : load_boot_config(config, platform);
		for (const auto& name : faults) {
			const auto f = parse_fault(name);
			if (!f) {
				std::cerr << "unknown fault '" << name << "'\n";
				return usage();
			}
			c.faults.push_back(*f);
		}
		const uint64_t pa = p->rmm_limit;  // RMM_SHARED_BASE
		const auto page = build_manifest(c, pa);
		std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
		out.write("EL3DMAN1", 8);
		put64(out, pa);
		put64(out, page.size());
		out.write(reinterpret_cast<const char*>(page.data()), static_cast<std::streamsize>(page.size()));
		out.close();
		if (!out) {
			std::cerr << out_path << ": write failed: " << std::strerror(errno) << "\n";
			return 1;
		}
	} catch (const std::exception& e) {
		std::cerr << "el3d_manifest_dump: " << e.what() << "\n";
		return 1;
	}
	return 0;
}
