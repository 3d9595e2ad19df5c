// The start event's record of how el3d was set up, and the carveout and monitor a replay builds from it.
#include "el3d/replay/replay.hpp"

#include <stdexcept>

namespace el3d::replay {

nlohmann::json describe_setup(const Monitor& m, bool created)
{
	const Geometry& g = m.geometry();
	const MonitorOptions& o = m.options();
	const MonitorStatus st = m.status();
	nlohmann::json mon = {
	    {"abi", abi_name(o.abi)},
	    {"strict_boot", o.strict_boot},
	    {"token_sign", o.token_sign},
	    {"sign_queue_depth", o.sign_queue_depth},
	    {"sign_delay_ms", o.sign_delay.count()},
	    {"token_hunk_size", o.token_hunk_size},
	    {"inject_again", o.inject_again},
	    {"mec", o.mec},
	    {"mecid_width", o.mecid_width},
	    {"seed", o.seed ? nlohmann::json(*o.seed) : nlohmann::json()},
	};
	if (o.boot_config)
		mon["boot_config"] = nlohmann::json::parse(manifest::to_json(*o.boot_config));
	return {
	    {"el3d", EL3D_VERSION},
	    {"platform", g.platform},
	    {"geometry",
	     {{"rmm_base", g.rmm_base},
	      {"rmm_size", g.rmm_limit - g.rmm_base},
	      {"payload_size", g.payload_limit - g.rmm_base},
	      {"region_slots", g.region_slots},
	      {"core_count", g.core_count}}},
	    {"log_capacity", st.log_capacity},
	    {"carveout",
	     {{"path", st.carveout_path},
	      {"uuid", st.carveout_uuid},
	      {"created", created},
	      {"epoch", st.epoch},
	      {"activation", st.activation},
	      {"regions", st.regions.size()}}},
	    {"monitor", mon},
	};
}

Setup setup_from_json(const nlohmann::json& c)
{
	Setup s;
	const char* field = "config";
	try {
		field = "platform";
		s.carveout.platform = c.at("platform").get<std::string>();
		field = "geometry";
		const auto& g = c.at("geometry");
		s.carveout.overrides.rmm_base = g.at("rmm_base").get<uint64_t>();
		s.carveout.overrides.rmm_size = g.at("rmm_size").get<uint64_t>();
		s.carveout.overrides.payload_size = g.at("payload_size").get<uint64_t>();
		s.carveout.overrides.region_slots = g.at("region_slots").get<uint32_t>();
		s.carveout.overrides.core_count = g.at("core_count").get<uint32_t>();
		field = "log_capacity";
		s.carveout.log_capacity = c.at("log_capacity").get<uint64_t>();
		field = "carveout";
		const auto& co = c.at("carveout");
		s.created = co.at("created").get<bool>();
		s.carveout_path = co.at("path").get<std::string>();
		s.epoch = co.at("epoch").get<uint64_t>();
		s.activation = co.at("activation").get<uint64_t>();
		s.regions = co.at("regions").get<uint64_t>();
		field = "monitor";
		const auto& m = c.at("monitor");
		MonitorOptions& o = s.options;
		field = "monitor.abi";
		auto abi = abi_from_name(m.at("abi").get<std::string>());
		if (!abi)
			throw std::invalid_argument("unknown ABI");
		o.abi = *abi;
		field = "monitor options";
		o.strict_boot = m.at("strict_boot").get<bool>();
		o.token_sign = m.at("token_sign").get<bool>();
		o.sign_queue_depth = m.at("sign_queue_depth").get<unsigned>();
		o.sign_delay = std::chrono::milliseconds(m.at("sign_delay_ms").get<int64_t>());
		o.token_hunk_size = m.at("token_hunk_size").get<uint64_t>();
		o.inject_again = m.at("inject_again").get<unsigned>();
		o.mec = m.at("mec").get<bool>();
		o.mecid_width = m.at("mecid_width").get<unsigned>();
		field = "monitor.seed";
		if (auto it = m.find("seed"); it != m.end() && !it->is_null())
			o.seed = it->get<uint64_t>();
		field = "monitor.boot_config";
		if (auto it = m.find("boot_config"); it != m.end())
			o.boot_config = manifest::parse_boot_config(it->dump(), manifest::Format::Json, *s.carveout.platform);
	} catch (const std::exception& e) {
		throw std::invalid_argument(std::string("the trace's start event: field '") + field + "': " + e.what());
	}
	return s;
}

}  // namespace el3d::replay
