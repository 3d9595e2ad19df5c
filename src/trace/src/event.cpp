// Trace events: the JSON Lines format (docs/trace.md), one-line descriptions, filters, the file
// reader and the summary of `el3ctl trace show`.
#include "el3d/trace/trace.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace el3d::trace {

namespace {

constexpr const char* kKinds[] = {"smc", "entry", "session-open", "session-close", "rmi", "reset", "start", "snapshot"};
constexpr int kKindCount = static_cast<int>(sizeof(kKinds) / sizeof(kKinds[0]));

std::string hex(uint64_t v)
{
	char b[24];
	std::snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return b;
}

uint64_t parse_hex(const nlohmann::json& j, const char* field)
{
	if (!j.is_string())
		throw std::invalid_argument(std::string("trace event: ") + field + " is not a hex string");
	const std::string& s = j.get_ref<const std::string&>();
	std::size_t used = 0;
	uint64_t v = 0;
	try {
		v = std::stoull(s, &used, 16);
	} catch (const std::exception&) {
		used = 0;
	}
	if (s.size() < 3 || s.compare(0, 2, "0x") != 0 || used != s.size())
		throw std::invalid_argument(std::string("trace event: ") + field + " '" + s + "' is not a hex number");
	return v;
}

template <std::size_t N>
void parse_regs(const nlohmann::json& j, const char* field, std::array<uint64_t, N>& out)
{
	if (!j.is_array() || j.size() > N)
		throw std::invalid_argument(std::string("trace event: ") + field + " is not an array of at most " +
		                            std::to_string(N) + " registers");
	for (std::size_t i = 0; i < j.size(); ++i)
		out[i] = parse_hex(j[i], field);
}

template <std::size_t N>
nlohmann::json regs_json(const std::array<uint64_t, N>& r)
{
	// Trailing zero registers are left out: most calls use few.
	std::size_t n = N;
	while (n > 0 && r[n - 1] == 0)
		--n;
	nlohmann::json a = nlohmann::json::array();
	for (std::size_t i = 0; i < n; ++i)
		a.push_back(hex(r[i]));
	return a;
}

std::string bytes_hex(const uint8_t* p, std::size_t n)
{
	static const char* digits = "0123456789abcdef";
	std::string s;
	s.reserve(2 * n);
	for (std::size_t i = 0; i < n; ++i) {
		s += digits[p[i] >> 4];
		s += digits[p[i] & 15];
	}
	return s;
}

std::vector<uint8_t> parse_bytes(const nlohmann::json& j, const char* field, std::size_t max)
{
	if (!j.is_string())
		throw std::invalid_argument(std::string("trace event: ") + field + " is not a string of hex digits");
	const std::string& s = j.get_ref<const std::string&>();
	if (s.size() % 2 != 0 || s.size() / 2 > max)
		throw std::invalid_argument(std::string("trace event: ") + field + " is not an even number of hex digits (at most " +
		                            std::to_string(2 * max) + ")");
	std::vector<uint8_t> out(s.size() / 2);
	auto nibble = [&](char c) -> uint8_t {
		if (c >= '0' && c <= '9')
			return static_cast<uint8_t>(c - '0');
		if (c >= 'a' && c <= 'f')
			return static_cast<uint8_t>(c - 'a' + 10);
		if (c >= 'A' && c <= 'F')
			return static_cast<uint8_t>(c - 'A' + 10);
		throw std::invalid_argument(std::string("trace event: ") + field + " holds a character that is not a hex digit");
	};
	for (std::size_t i = 0; i < out.size(); ++i)
		out[i] = static_cast<uint8_t>(nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]));
	return out;
}

constexpr std::size_t kMaxMemIn = 1 << 16;  // bytes per read a trace line may carry

}  // namespace

const char* kind_name(Kind k) { return kKinds[static_cast<int>(k)]; }

std::optional<Kind> kind_from_name(const std::string& s)
{
	for (int i = 0; i < kKindCount; ++i)
		if (s == kKinds[i])
			return static_cast<Kind>(i);
	return std::nullopt;
}

nlohmann::json to_json(const Event& e)
{
	nlohmann::json j = {{"v", kFormatVersion}, {"seq", e.seq}, {"t_ns", e.time_ns}, {"kind", kind_name(e.kind)},
	                    {"cpu", e.cpu}, {"act", e.activation}};
	if (e.kind == Kind::Smc || e.kind == Kind::Rmi || e.kind == Kind::Entry) {
		j["fid"] = hex(e.fid);
		j["name"] = e.name;
		j["in"] = regs_json(e.in);
		j["out"] = regs_json(e.out);
		j["result"] = e.result;
		j["dur_ns"] = e.duration_ns;
	}
	if (!e.effects.empty())
		j["effects"] = e.effects;
	if (e.injected)
		j["injected"] = true;
	if (!e.note.empty())
		j["note"] = e.note;
	if (!e.mem_in.empty()) {
		auto& a = j["mem_in"] = nlohmann::json::array();
		for (const auto& m : e.mem_in)
			a.push_back({{"pa", hex(m.pa)}, {"hex", bytes_hex(m.bytes.data(), m.bytes.size())}});
	}
	if (!e.mem_out.empty()) {
		auto& a = j["mem_out"] = nlohmann::json::array();
		for (const auto& m : e.mem_out)
			a.push_back({{"pa", hex(m.pa)}, {"len", m.len}, {"sha256", bytes_hex(m.sha256.data(), m.sha256.size())}});
	}
	if (!e.config.is_null())
		j["config"] = e.config;
	return j;
}

Event from_json(const nlohmann::json& j)
{
	if (!j.is_object())
		throw std::invalid_argument("trace event: not a JSON object");
	if (j.value("v", 0) != kFormatVersion)
		throw std::invalid_argument("trace event: format version is not " + std::to_string(kFormatVersion));
	Event e;
	try {
		e.seq = j.at("seq").get<uint64_t>();
		e.time_ns = j.at("t_ns").get<int64_t>();
		auto k = kind_from_name(j.at("kind").get<std::string>());
		if (!k)
			throw std::invalid_argument("trace event: unknown kind");
		e.kind = *k;
		e.cpu = j.at("cpu").get<uint32_t>();
		e.activation = j.at("act").get<uint64_t>();
		if (j.contains("fid"))
			e.fid = parse_hex(j["fid"], "fid");
		e.name = j.value("name", "");
		if (j.contains("in"))
			parse_regs(j["in"], "in", e.in);
		if (j.contains("out"))
			parse_regs(j["out"], "out", e.out);
		e.result = j.value("result", "");
		e.duration_ns = j.value("dur_ns", uint64_t{0});
		if (j.contains("effects"))
			e.effects = j["effects"].get<std::vector<std::string>>();
		e.injected = j.value("injected", false);
		e.note = j.value("note", "");
		if (auto it = j.find("mem_in"); it != j.end()) {
			if (!it->is_array())
				throw std::invalid_argument("trace event: mem_in is not an array");
			for (const auto& m : *it)
				e.mem_in.push_back({parse_hex(m.at("pa"), "mem_in.pa"), parse_bytes(m.at("hex"), "mem_in.hex", kMaxMemIn)});
		}
		if (auto it = j.find("mem_out"); it != j.end()) {
			if (!it->is_array())
				throw std::invalid_argument("trace event: mem_out is not an array");
			for (const auto& m : *it) {
				MemOut o{parse_hex(m.at("pa"), "mem_out.pa"), m.at("len").get<uint64_t>(), {}};
				const auto d = parse_bytes(m.at("sha256"), "mem_out.sha256", o.sha256.size());
				if (d.size() != o.sha256.size())
					throw std::invalid_argument("trace event: mem_out.sha256 is not 32 bytes");
				std::copy(d.begin(), d.end(), o.sha256.begin());
				e.mem_out.push_back(o);
			}
		}
		if (auto it = j.find("config"); it != j.end()) {
			if (!it->is_object())
				throw std::invalid_argument("trace event: config is not an object");
			e.config = *it;
		}
	} catch (const nlohmann::json::exception& x) {
		throw std::invalid_argument(std::string("trace event: ") + x.what());
	}
	return e;
}

std::string describe(const Event& e)
{
	char when[64] = "";
	const std::time_t secs = static_cast<std::time_t>(e.time_ns / 1000000000);
	std::tm tm{};
	::gmtime_r(&secs, &tm);
	std::snprintf(when, sizeof(when), "%02d:%02d:%02d.%06lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
	              static_cast<long long>((e.time_ns % 1000000000) / 1000));
	std::string s = "#" + std::to_string(e.seq) + " " + when + " cpu" + std::to_string(e.cpu) + " act" +
	                std::to_string(e.activation) + " ";
	// Registers [from, to) of r, named x<i>, the non-zero ones only.
	auto regs = [](const uint64_t* r, std::size_t from, std::size_t to, std::size_t label0) {
		std::string out;
		for (std::size_t i = from; i < to; ++i)
			if (r[i] != 0)
				out += " x" + std::to_string(i + label0) + "=" + hex(r[i]);
		return out;
	};
	switch (e.kind) {
	case Kind::Smc:
	case Kind::Rmi:
		s += std::string(e.kind == Kind::Rmi ? "RMI " : "") + e.name + regs(e.in.data(), 0, 7, 1) + " -> " + e.result +
		     regs(e.out.data(), 1, 8, 0);
		break;
	case Kind::Entry: s += "entry " + e.name + regs(e.out.data(), 0, 8, 0); break;
	case Kind::SessionOpen: s += "session opened"; break;
	case Kind::SessionClose: s += "session closed"; break;
	case Kind::Reset: s += "reset"; break;
	case Kind::Start: s += "el3d started" + (e.note.empty() ? std::string() : ": " + e.note); break;
	case Kind::Snapshot: s += "snapshot"; break;
	}
	if (e.kind == Kind::Smc || e.kind == Kind::Rmi) {
		char d[32];
		std::snprintf(d, sizeof(d), " %.1fus", static_cast<double>(e.duration_ns) / 1000.0);
		s += d;
	}
	if (e.injected)
		s += " [injected]";
	for (const auto& f : e.effects)
		s += " [" + f + "]";
	for (const auto& m : e.mem_in)
		s += " [read " + std::to_string(m.bytes.size()) + " bytes at " + hex(m.pa) + "]";
	for (const auto& m : e.mem_out)
		s += " [wrote " + std::to_string(m.len) + " bytes at " + hex(m.pa) + "]";
	if (!e.note.empty() && e.kind != Kind::Start)
		s += " (" + e.note + ")";
	return s;
}

bool Filter::matches(const Event& e) const
{
	if (cpu && e.cpu != *cpu)
		return false;
	if (fid && static_cast<uint32_t>(e.fid) != *fid)
		return false;
	if (result && e.result != *result)
		return false;
	return true;
}

FileContents read_file(const std::string& path)
{
	std::ifstream f(path, std::ios::binary);
	if (!f)
		throw std::runtime_error("cannot open trace file " + path);
	FileContents out;
	std::string line;
	std::size_t n = 0;
	std::optional<std::string> bad;
	while (std::getline(f, line)) {
		++n;
		const bool last = f.peek() == std::char_traits<char>::eof();
		const bool complete = !f.eof();  // getline stopped at a newline
		if (line.empty() && complete)
			continue;
		try {
			if (bad)
				throw std::runtime_error(*bad);
			out.events.push_back(from_json(nlohmann::json::parse(line)));
		} catch (const std::exception& x) {
			if (last && !complete) {  // cut short by a kill during its write
				out.truncated_tail = true;
				break;
			}
			throw std::runtime_error("trace file " + path + ", line " + std::to_string(n) + ": " + x.what());
		}
	}
	return out;
}

Summary summarize(const std::vector<Event>& events)
{
	Summary s;
	s.events = events.size();
	std::vector<const Event*> calls;
	for (const Event& e : events) {
		if (e.injected)
			++s.injected;
		if (e.kind != Kind::Smc && e.kind != Kind::Rmi)
			continue;
		s.counts[(e.kind == Kind::Rmi ? "RMI " : "") + e.name][e.result] += 1;
		calls.push_back(&e);
	}
	std::sort(calls.begin(), calls.end(), [](const Event* a, const Event* b) { return a->duration_ns > b->duration_ns; });
	for (std::size_t i = 0; i < calls.size() && i < 10; ++i)
		s.slowest.push_back(*calls[i]);
	return s;
}

std::string format_summary(const Summary& s)
{
	std::string out = std::to_string(s.events) + " events";
	if (s.injected != 0)
		out += ", " + std::to_string(s.injected) + " injected faults";
	out += "\ncalls per FID and result:\n";
	for (const auto& [name, results] : s.counts)
		for (const auto& [result, n] : results) {
			char b[160];
			std::snprintf(b, sizeof(b), "  %-34s %-28s %8llu\n", name.c_str(), result.c_str(),
			              static_cast<unsigned long long>(n));
			out += b;
		}
	if (!s.slowest.empty()) {
		out += "slowest calls:\n";
		for (const Event& e : s.slowest)
			out += "  " + describe(e) + "\n";
	}
	return out;
}

}  // namespace el3d::trace
