#include "status_view.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/util/numbers.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace el3d::cli {

namespace {
const char* cpu_state_name(v1::CpuBootState s)
{
	switch (s) {
	case v1::CPU_BOOT_STATE_OFF: return "off";
	case v1::CPU_BOOT_STATE_BOOTING: return "booting";
	case v1::CPU_BOOT_STATE_BOOTED: return "booted";
	case v1::CPU_BOOT_STATE_FAILED: return "failed";
	default: return "?";
	}
}

// A request of size 0 is recorded (it can move the top down to its alignment) but never claims
// its tag: the core, like the seed, marks a region id used by a non-zero size.
bool claims_tag(const v1::Region& r) { return r.id() != 0 && r.size() != 0; }
}  // namespace

// The boot configuration in force as a JSON object whose numbers are numbers, like the rest of the
// document (el3d sends it as the text of its boot-configuration format, where numbers are hex strings;
// a boot configuration accepts either). Kept as text if it is not JSON.
static nlohmann::json boot_config_json(const std::string& text)
{
	nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
	if (j.is_discarded())
		return text;
	auto numbers = [](auto& self, nlohmann::json& v) -> void {
		if (v.is_structured()) {
			for (auto& child : v)
				self(self, child);
		} else if (v.is_string()) {
			const std::string& t = v.get_ref<const std::string&>();
			if (t.size() > 2 && t[0] == '0' && t[1] == 'x')
				if (auto n = el3d::parse_u64(t))
					v = *n;
		}
	};
	numbers(numbers, j);
	return j;
}

nlohmann::json state_json(const v1::State& s)
{
	nlohmann::json regions = nlohmann::json::array();
	for (const auto& r : s.regions())
		regions.push_back({{"id", r.id()},
		                   {"addr", r.address()},
		                   {"size", r.size()},
		                   {"claims_tag", claims_tag(r)},
		                   {"align_bits", r.align_bits()},
		                   {"cpu", r.cpu()},
		                   {"activation", r.activation()},
		                   {"after_boot_complete", r.after_boot_complete()},
		                   {"time_unix_ns", r.time_unix_ns()}});
	nlohmann::json cpus = nlohmann::json::array();
	for (const auto& c : s.cpus())
		cpus.push_back({{"cpu", c.cpu()},
		                {"state", cpu_state_name(c.state())},
		                {"boot_result", c.boot_result()},
		                {"completions", c.completions()},
		                {"token", c.token()},
		                {"entries", c.entries()},
		                {"session", c.session()},
		                {"rmi", c.rmi() == v1::RMI_STATE_SERVING   ? "serving"
		                        : c.rmi() == v1::RMI_STATE_WAITING ? "waiting"
		                                                           : "absent"},
		                {"rmi_fid", c.rmi_fid()},
		                {"rmi_queued", c.rmi_queued()},
		                {"rmis", c.rmis()}});
	nlohmann::json gpt = nlohmann::json::object();
	for (const auto& g : s.gpt())
		gpt[g.pas()] = g.granules();
	nlohmann::json gpt_ranges = nlohmann::json::array();
	for (const auto& r : s.gpt_ranges())
		gpt_ranges.push_back({{"base", r.base()}, {"size", r.size()}, {"initial", r.initial()}});
	nlohmann::json dram = nlohmann::json::array();
	for (const auto& b : s.dram())
		dram.push_back({{"base", b.base()}, {"size", b.size()}});
	const auto& pk = s.platform_public_key();
	const auto& rk = s.realm_public_key();
	nlohmann::json j = {{"platform", s.platform()},
	                    {"abi", s.abi()},
	                    {"rmm_base", s.rmm_base()},
	                    {"rmm_limit", s.rmm_limit()},
	                    {"payload_limit", s.payload_limit()},
	                    {"shared_base", s.shared_base()},
	                    {"shared_size", s.shared_size()},
	                    {"top", s.top()},
	                    {"free", s.top() - s.payload_limit()},
	                    {"core_count", s.core_count()},
	                    {"region_slots", s.region_slots()},
	                    {"regions", regions},
	                    {"cpus", cpus},
	                    {"allocations_after_boot", s.allocations_after_boot()},
	                    {"strict_boot", s.strict_boot()},
	                    {"carveout_path", s.carveout_path()},
	                    {"carveout_id", s.carveout_id()},
	                    {"image_offset", s.image_offset()},
	                    {"epoch", s.epoch()},
	                    {"activation", s.activation()},
	                    {"log_capacity", s.log_capacity()},
	                    {"smc_calls", s.smc_calls()},
	                    {"durability", s.durability()},
	                    {"flushes",
	                     {{"flushes", s.flushes().flushes()},
	                      {"smc_flushes", s.flushes().smc_flushes()},
	                      {"state_changing_smcs", s.flushes().state_changing_smcs()},
	                      {"grouped", s.flushes().grouped()}}},
	                    {"daemon_pid", s.daemon_pid()},
	                    {"version", s.version()},
	                    {"interface_version", s.interface_version()},
	                    {"pa_bits", s.pa_bits()},
	                    {"dram", dram},
	                    {"gpt", gpt},
	                    {"gpt_ranges", gpt_ranges},
	                    {"platform_public_key", to_hex(reinterpret_cast<const uint8_t*>(pk.data()), pk.size())},
	                    {"realm_public_key", to_hex(reinterpret_cast<const uint8_t*>(rk.data()), rk.size())},
	                    {"token_sign", {{"pending", s.sign_pending()}, {"ready", s.sign_ready()}, {"done", s.sign_done()}}},
	                    {"mec_refreshes", s.mec_refreshes()},
	                    {"boot_config", boot_config_json(s.boot_config())}};
	if (s.has_ns_memory()) {
		nlohmann::json windows = nlohmann::json::array();
		for (const auto& w : s.ns_memory().windows())
			windows.push_back({{"base", w.base()}, {"size", w.size()}, {"file_offset", w.file_offset()}});
		j["ns_memory"] = {{"path", s.ns_memory().path()},
		                  {"id", s.ns_memory().id()},
		                  {"carveout_id", s.ns_memory().carveout_id()},
		                  {"windows", windows}};
	} else {
		j["ns_memory"] = nullptr;
	}
	if (s.has_boot_failure())
		j["boot_failure"] = {{"cpu", s.boot_failure().cpu()},
		                     {"code", s.boot_failure().code()},
		                     {"name", s.boot_failure().name()}};
	else
		j["boot_failure"] = nullptr;
	return j;
}

std::string state_text(const v1::State& s, unsigned width)
{
	std::string out;
	auto line = [&](const std::string& l) { out += l + "\n"; };
	line("el3d " + s.version() + " (pid " + std::to_string(s.daemon_pid()) + "): platform " + s.platform() + ", " +
	     s.abi() + " ABI (interface " + std::to_string(s.interface_version() >> 16) + "." +
	     std::to_string(s.interface_version() & 0xffff) + "), " + std::to_string(s.core_count()) + " CPUs, " +
	     std::to_string(s.region_slots()) + " region slots" + (s.strict_boot() ? ", strict boot" : ""));
	std::string durability = "durability " + s.durability();
	if (s.durability() == "power")
		durability += ": " + std::to_string(s.flushes().smc_flushes()) + " flushes for " +
		              std::to_string(s.flushes().state_changing_smcs()) + " state-changing SMCs";
	line("carveout file " + s.carveout_path() + " (epoch " + std::to_string(s.epoch()) + ", " + durability + ")");
	if (s.has_ns_memory()) {
		uint64_t total = 0;
		for (const auto& w : s.ns_memory().windows())
			total += w.size();
		line("NS memory file " + s.ns_memory().path() + " (" + std::to_string(s.ns_memory().windows_size()) +
		     " windows, " + human_size(total) + ")");
	}
	if (s.has_boot_failure())
		line("!! boot failed on cpu " + std::to_string(s.boot_failure().cpu()) + ": " + s.boot_failure().name() +
		     " -- the Realm world is disabled until `el3ctl reset`");
	line("");

	// The map, top of memory first.
	char buf[160];
	auto row = [&](uint64_t addr, const std::string& size, const std::string& what) {
		std::snprintf(buf, sizeof(buf), "  %s  %10s  %s", hex64(addr).c_str(), size.c_str(), what.c_str());
		line(buf);
	};
	auto mark = [&](uint64_t addr, const std::string& what) {
		std::snprintf(buf, sizeof(buf), "  %s  %10s  %s", hex64(addr).c_str(), "", what.c_str());
		line(buf);
	};
	std::snprintf(buf, sizeof(buf), "  %-18s  %10s  %s", "address", "size", "");
	line(buf);
	row(s.shared_base(), human_size(s.shared_size()), "shared page (EL3 <-> RMM)");
	mark(s.rmm_limit(), "-- RMM_LIMIT");
	std::vector<v1::Region> regions(s.regions().begin(), s.regions().end());
	std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) {
		return a.address() != b.address() ? a.address() > b.address() : a.size() > b.size();
	});
	uint64_t cursor = s.rmm_limit();
	uint64_t tagged = 0, untagged = 0, empty = 0, used = 0;
	for (const auto& r : regions) {
		const uint64_t end = r.address() + r.size();
		if (end < cursor)
			row(end, human_size(cursor - end), "(alignment gap)");
		std::string what;
		if (r.size() == 0)
			what = r.id() != 0 ? "size 0 with id " + std::to_string(r.id()) + ", tag not claimed" : "size 0, untagged";
		else
			what = r.id() != 0 ? "region id " + std::to_string(r.id()) : "untagged";
		what += "  (cpu " + std::to_string(r.cpu()) + ", activation " + std::to_string(r.activation());
		if (r.align_bits() != 0)
			what += ", align 2^" + std::to_string(r.align_bits());
		if (r.after_boot_complete())
			what += ", after boot complete";
		what += ")";
		row(r.address(), human_size(r.size()), what);
		cursor = std::min(cursor, r.address());
		(r.size() == 0 ? empty : claims_tag(r) ? tagged : untagged) += 1;
		used += r.size();
	}
	if (s.top() < cursor)
		row(s.top(), human_size(cursor - s.top()), "(alignment gap)");
	mark(s.top(), "-- top");
	row(s.payload_limit(), human_size(s.top() - s.payload_limit()), "free");
	mark(s.payload_limit(), "-- RMM_PAYLOAD_LIMIT");
	row(s.rmm_base(), human_size(s.payload_limit() - s.rmm_base()), "RMM payload");
	mark(s.rmm_base(), "-- RMM_BASE");
	line("");

	// A bar, low addresses on the left: the allocatable carveout, then the shared page. A cell
	// shows the kind of memory in it; a cell that holds any tagged byte shows '#'.
	const uint64_t span = s.rmm_limit() - s.rmm_base();
	const unsigned cells = width > 2 ? width - 1 : 1;
	std::string bar(cells, '.');
	// The cell of a byte of [rmm_base, rmm_limit); addresses outside are clamped to the ends.
	auto cell = [&](uint64_t pa) {
		if (span == 0 || pa <= s.rmm_base())
			return 0u;
		return static_cast<unsigned>(std::min<uint64_t>(cells - 1, (pa - s.rmm_base()) * cells / span));
	};
	// An empty range [lo, hi) paints nothing.
	auto paint = [&](uint64_t lo, uint64_t hi, char c) {
		if (hi <= lo || span == 0)
			return;
		for (unsigned i = cell(lo); i <= cell(hi - 1); ++i)
			bar[i] = (c == '+' && bar[i] == '#') ? '#' : c;
	};
	paint(s.rmm_base(), s.payload_limit(), 'P');
	for (const auto& r : regions)
		paint(r.address(), r.address() + r.size(), claims_tag(r) ? '#' : '+');
	line("  [" + bar + "S]");
	line("   P payload  . free  # tagged  + untagged  S shared page   (1 char = " + human_size(span / cells) + ")");
	line("");
	line("  " + std::to_string(regions.size()) + (regions.size() == 1 ? " allocation (" : " allocations (") + std::to_string(tagged) + " tagged, " +
	     std::to_string(untagged) + " untagged" + (empty != 0 ? ", " + std::to_string(empty) + " of size 0" : "") +
	     "), " + human_size(used) + " allocated, " + human_size(s.top() - s.payload_limit()) + " free");
	unsigned booted = 0, booting = 0, failed = 0;
	for (const auto& c : s.cpus()) {
		booted += c.state() == v1::CPU_BOOT_STATE_BOOTED;
		booting += c.state() == v1::CPU_BOOT_STATE_BOOTING;
		failed += c.state() == v1::CPU_BOOT_STATE_FAILED;
	}
	line("  CPUs: " + std::to_string(booted) + " booted, " + std::to_string(booting) + " booting, " +
	     std::to_string(failed) + " failed (activation " + std::to_string(s.activation()) +
	     "); allocations after boot complete: " + std::to_string(s.allocations_after_boot()) +
	     "; SMCs served: " + std::to_string(s.smc_calls()));
	for (const auto& c : s.cpus()) {
		std::snprintf(buf, sizeof(buf), "    cpu %-4u %-8s entries %-4llu completions %-4llu token %s%s%s", c.cpu(),
		              cpu_state_name(c.state()), static_cast<unsigned long long>(c.entries()),
		              static_cast<unsigned long long>(c.completions()), hex64(c.token()).c_str(),
		              c.session() ? "  [session]" : "",
		              c.state() == v1::CPU_BOOT_STATE_FAILED ? ("  " + boot_result_name(c.boot_result())).c_str() : "");
		std::string l = buf;
		// The world switch: whether this CPU's RMM serves RMIs, and what it holds.
		if (c.rmi() == v1::RMI_STATE_WAITING)
			l += "  RMM waiting for an RMI";
		else if (c.rmi() == v1::RMI_STATE_SERVING)
			l += "  RMM serving RMI " + hex64(c.rmi_fid());
		if (c.rmi_queued() != 0)
			l += ", " + std::to_string(c.rmi_queued()) + " queued";
		if (c.rmis() != 0)
			l += " (" + std::to_string(c.rmis()) + " RMIs served)";
		line(l);
	}
	if (s.gpt_size() != 0) {
		std::string g = "  GPT (granules):";
		for (const auto& p : s.gpt())
			g += " " + p.pas() + " " + std::to_string(p.granules());
		line(g);
	}
	if (s.has_ns_memory() && s.ns_memory().windows_size() != 0) {
		line("  Non-secure memory (shared by every client at PA == VA):");
		for (const auto& w : s.ns_memory().windows()) {
			std::snprintf(buf, sizeof(buf), "    [%s, %s)  %10s  file offset %s", hex64(w.base()).c_str(),
			              hex64(w.base() + w.size()).c_str(), human_size(w.size()).c_str(), hex(w.file_offset()).c_str());
			line(buf);
		}
	}
	if (s.sign_pending() + s.sign_ready() + s.sign_done() + s.mec_refreshes() != 0)
		line("  token signing: " + std::to_string(s.sign_pending()) + " pending, " + std::to_string(s.sign_ready()) +
		     " ready, " + std::to_string(s.sign_done()) + " pulled; MEC refreshes: " + std::to_string(s.mec_refreshes()));
	return out;
}

std::string registers_line(const uint64_t (&x)[8])
{
	std::string out;
	for (unsigned i = 0; i < 8; ++i) {
		if (i)
			out += ' ';
		out += "x" + std::to_string(i) + "=" + hex64(x[i]);
	}
	return out;
}

std::string hexdump(uint64_t address, const std::string& data)
{
	std::string out;
	char buf[32];
	for (std::size_t off = 0; off < data.size(); off += 16) {
		std::snprintf(buf, sizeof(buf), "%016llx  ", static_cast<unsigned long long>(address + off));
		out += buf;
		std::string ascii;
		for (std::size_t i = 0; i < 16; ++i) {
			if (off + i < data.size()) {
				const auto c = static_cast<unsigned char>(data[off + i]);
				std::snprintf(buf, sizeof(buf), "%02x ", c);
				out += buf;
				ascii += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
			} else {
				out += "   ";
			}
			if (i == 7)
				out += ' ';
		}
		out += " |" + ascii + "|\n";
	}
	return out;
}

}  // namespace el3d::cli
