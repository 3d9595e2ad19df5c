// el3ctl fids: the FID table of an ABI profile, from the core's own dispatch table.
#include "commands.hpp"

#include "el3d/monitor/monitor.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace el3d::cli {

int cmd_fids(Session& s, const std::string& abi_text, bool json)
{
	std::string name = abi_text;
	if (name.empty()) {
		if (!s.connect())
			return kUnreachable;
		v1::State st;
		if (grpc::Status rc = s.get_state(st); !rc.ok())
			return s.fail(rc, "fids");
		name = st.abi();
	}
	const auto abi = abi_from_name(name);
	if (!abi) {
		*s.err << "el3ctl fids: unknown ABI profile '" << name << "'\n";
		return kUsage;
	}
	const auto table = profile_fids(*abi);
	const uint32_t v = interface_version(*abi);
	if (json) {
		nlohmann::json fids = nlohmann::json::array();
		for (const auto& e : table)
			fids.push_back({{"fid", e.fid}, {"name", e.name}});
		nlohmann::json j = {{"abi", name}, {"interface_version", v}, {"fids", fids}};
		*s.out << j.dump(2) << "\n";
		return kOk;
	}
	*s.out << name << " ABI (interface " << (v >> 16) << "." << (v & 0xffff) << "): " << table.size()
	       << " FIDs; any other answers SMC_UNK";
	if (*abi != Abi::Seed)
		*s.out << " (FIRME FIDs in [" << hex(EL3_FID_FIRME_FIRST) << ", " << hex(EL3_FID_FIRME_LAST)
		       << "] not listed answer FIRME_NOT_SUPPORTED)";
	*s.out << "\n";
	for (const auto& e : table)
		*s.out << "  " << hex(e.fid) << "  " << e.name
		       << (e.fid == EL3_FID_RMM_EL3_TOKEN_SIGN ? "  (not with el3d --no-token-sign)" : "") << "\n";
	return kOk;
}

}  // namespace el3d::cli
