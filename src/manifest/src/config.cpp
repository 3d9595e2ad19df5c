// Boot configuration files (JSON and TOML) and the cold-boot registers they lead to.
//
// TOML is first turned into the same JSON tree, so both formats go through one reader and cannot drift apart in
// what they accept or in their error messages.
#include "el3d/manifest/boot_config.hpp"

#include "el3d/util/numbers.hpp"
#include "toml_scan.hpp"

#include <nlohmann/json.hpp>
// toml++ compiled into this file (header-only mode): no library to ship. It limits nesting itself and
// refuses invalid UTF-8; toml11 crashed on some hostile inputs (a dotted key into an array).
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
// toml++ 3.3 checks internal invariants with assert(), and a hostile document reaches one ("[$]" as a
// table header) in a build without NDEBUG, which would end the daemon; with the checks off the same
// input is refused with a parse error. el3d keeps them off in every build type, so that a Debug build
// parses as the release build and the fuzz target do (docs/fuzzing.md).
#define TOML_ASSERT(expr) static_cast<void>(0)
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace el3d::manifest {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& key, const std::string& what) { throw ConfigError(key + ": " + what); }

std::string join(const std::string& parent, std::string_view child)
{
	return parent.empty() ? std::string(child) : parent + "." + std::string(child);
}

std::string index(const std::string& parent, std::size_t i) { return parent + "[" + std::to_string(i) + "]"; }

std::string type_of(const json& v)
{
	switch (v.type()) {
	case json::value_t::object: return "a table";
	case json::value_t::array: return "a list";
	case json::value_t::string: return "the string " + v.dump();
	case json::value_t::boolean: return std::string("the boolean ") + (v.get<bool>() ? "true" : "false");
	case json::value_t::number_float: return "the fraction " + v.dump();
	case json::value_t::null: return "null";
	default: return v.dump();
	}
}

// A non-negative integer, or a string parse_u64 accepts ("0x1000", "8M", "2G"), no larger than `max`.
uint64_t number(const json& v, const std::string& key, uint64_t max = UINT64_MAX)
{
	uint64_t n = 0;
	if (v.is_number_unsigned()) {
		n = v.get<uint64_t>();
	} else if (v.is_number_integer()) {
		const int64_t s = v.get<int64_t>();
		if (s < 0)
			fail(key, "must not be negative, got " + std::to_string(s));
		n = static_cast<uint64_t>(s);
	} else if (v.is_string()) {
		const auto p = parse_u64(v.get<std::string>());
		if (!p)
			fail(key, "expected a number such as 4096, \"0x1000\", \"8M\" or \"2G\", got " + type_of(v));
		n = *p;
	} else {
		fail(key, "expected a number such as 4096, \"0x1000\", \"8M\" or \"2G\", got " + type_of(v));
	}
	if (n > max)
		fail(key, hex(n) + " is out of range (at most " + hex(max) + ")");
	return n;
}

template <typename T>
T number_as(const json& v, const std::string& key)
{
	return static_cast<T>(number(v, key, std::numeric_limits<T>::max()));
}

std::string string(const json& v, const std::string& key)
{
	if (!v.is_string())
		fail(key, "expected a string, got " + type_of(v));
	return v.get<std::string>();
}

const json& list(const json& v, const std::string& key)
{
	if (!v.is_array())
		fail(key, "expected a list, got " + type_of(v));
	return v;
}

// Checks that `v` is a table with only `allowed` keys (and all of `required`).
void table(const json& v, const std::string& key, std::initializer_list<std::string_view> allowed,
           std::initializer_list<std::string_view> required = {})
{
	if (!v.is_object())
		fail(key.empty() ? "(top level)" : key, "expected a table, got " + type_of(v));
	for (auto it = v.begin(); it != v.end(); ++it) {
		if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
			std::string names;
			for (auto a : allowed)
				names += (names.empty() ? "" : ", ") + std::string(a);
			fail(join(key, it.key()), "unknown key (expected one of: " + names + ")");
		}
	}
	for (auto r : required)
		if (!v.contains(r))
			fail(join(key, r), "missing (required)");
}

const json* find(const json& v, std::string_view name)
{
	auto it = v.find(name);
	return it == v.end() ? nullptr : &*it;
}

std::vector<Bank> banks(const json& v, const std::string& key)
{
	std::vector<Bank> out;
	std::size_t i = 0;
	for (const auto& e : list(v, key)) {
		const std::string k = index(key, i++);
		table(e, k, {"base", "size"}, {"base", "size"});
		out.push_back({number(e["base"], join(k, "base")), number(e["size"], join(k, "size"))});
	}
	return out;
}

std::vector<Console> consoles(const json& v, const std::string& key)
{
	std::vector<Console> out;
	std::size_t i = 0;
	for (const auto& e : list(v, key)) {
		const std::string k = index(key, i++);
		table(e, k, {"base", "map_pages", "name", "clk_in_hz", "baud_rate", "flags"},
		      {"base", "clk_in_hz", "baud_rate"});
		Console c;
		c.base = number(e["base"], join(k, "base"));
		c.name = "pl011";
		if (auto* p = find(e, "map_pages"))
			c.map_pages = number(*p, join(k, "map_pages"));
		if (auto* p = find(e, "name")) {
			c.name = string(*p, join(k, "name"));
			if (c.name.size() > kConsoleNameMax || c.name.find('\0') != std::string::npos)
				fail(join(k, "name"), "'" + c.name + "' must have at most " +
				                          std::to_string(kConsoleNameMax) +
				                          " characters (it is stored NUL-terminated in char[8])");
		}
		c.clk_in_hz = number(e["clk_in_hz"], join(k, "clk_in_hz"));
		c.baud_rate = number(e["baud_rate"], join(k, "baud_rate"));
		if (auto* p = find(e, "flags"))
			c.flags = number(*p, join(k, "flags"));
		out.push_back(std::move(c));
	}
	return out;
}

std::vector<Smmu> smmus(const json& v, const std::string& key)
{
	std::vector<Smmu> out;
	std::size_t i = 0;
	for (const auto& e : list(v, key)) {
		const std::string k = index(key, i++);
		table(e, k, {"base", "r_base"}, {"base", "r_base"});
		out.push_back({number(e["base"], join(k, "base")), number(e["r_base"], join(k, "r_base"))});
	}
	return out;
}

std::vector<RootComplex> root_complexes(const json& v, const std::string& key)
{
	std::vector<RootComplex> out;
	std::size_t i = 0;
	for (const auto& e : list(v, key)) {
		const std::string k = index(key, i++);
		table(e, k, {"ecam_base", "segment", "ports"}, {"ecam_base", "ports"});
		RootComplex rc;
		rc.ecam_base = number(e["ecam_base"], join(k, "ecam_base"));
		if (auto* p = find(e, "segment"))
			rc.segment = number_as<uint8_t>(*p, join(k, "segment"));
		std::size_t j = 0;
		for (const auto& pe : list(e["ports"], join(k, "ports"))) {
			const std::string pk = index(join(k, "ports"), j++);
			table(pe, pk, {"id", "bdfs"}, {"id", "bdfs"});
			RootPort rp;
			rp.id = number_as<uint16_t>(pe["id"], join(pk, "id"));
			std::size_t m = 0;
			for (const auto& be : list(pe["bdfs"], join(pk, "bdfs"))) {
				const std::string bk = index(join(pk, "bdfs"), m++);
				table(be, bk, {"base", "top", "off", "smmu_idx"}, {"base", "top"});
				BdfMapping b;
				b.base = number_as<uint16_t>(be["base"], join(bk, "base"));
				b.top = number_as<uint16_t>(be["top"], join(bk, "top"));
				if (auto* p = find(be, "off"))
					b.off = number_as<uint16_t>(*p, join(bk, "off"));
				if (auto* p = find(be, "smmu_idx"))
					b.smmu_idx = number_as<uint16_t>(*p, join(bk, "smmu_idx"));
				rp.bdfs.push_back(b);
			}
			rc.ports.push_back(std::move(rp));
		}
		out.push_back(std::move(rc));
	}
	return out;
}

void read_manifest(const json& v, Spec& s)
{
	const std::string key = "manifest";
	table(
	    v, key,
	    {"version", "plat_data", "dram", "ncoh", "coh", "consoles", "smmus", "rc_info_version", "root_complexes"});
	if (auto* p = find(v, "version"))
		s.version = number_as<uint32_t>(*p, join(key, "version"));
	if (auto* p = find(v, "plat_data"))
		s.plat_data = number(*p, join(key, "plat_data"));
	if (auto* p = find(v, "dram"))
		s.dram = banks(*p, join(key, "dram"));
	if (auto* p = find(v, "ncoh"))
		s.ncoh = banks(*p, join(key, "ncoh"));
	if (auto* p = find(v, "coh"))
		s.coh = banks(*p, join(key, "coh"));
	if (auto* p = find(v, "consoles"))
		s.consoles = consoles(*p, join(key, "consoles"));
	if (auto* p = find(v, "smmus"))
		s.smmus = smmus(*p, join(key, "smmus"));
	if (auto* p = find(v, "rc_info_version"))
		s.rc_info_version = number_as<uint32_t>(*p, join(key, "rc_info_version"));
	if (auto* p = find(v, "root_complexes"))
		s.root_complexes = root_complexes(*p, join(key, "root_complexes"));
}

std::vector<Fault> faults(const json& v)
{
	std::vector<Fault> out;
	std::size_t i = 0;
	for (const auto& e : list(v, "faults")) {
		const std::string k = index("faults", i++);
		const std::string name = string(e, k);
		const auto f = parse_fault(name);
		if (!f)
			fail(k, "unknown fault '" + name + "' (known: " + fault_names() + ")");
		if (std::find(out.begin(), out.end(), *f) == out.end())
			out.push_back(*f);
	}
	return out;
}

// More banks than this cannot fit in the page next to the core struct.
constexpr uint64_t kMaxFaultBanks = (kPageSize - kCoreSize) / kBankSize;

void read_fault_params(const json& v, FaultParams& p)
{
	const std::string key = "fault_params";
	table(v, key, {"dram_banks", "bad_version", "core_count", "shared_offset", "interface_version"});
	if (auto* e = find(v, "dram_banks")) {
		p.dram_banks = static_cast<uint32_t>(number(*e, join(key, "dram_banks"), kMaxFaultBanks));
		if (p.dram_banks < 1)
			fail(join(key, "dram_banks"), "must be at least 1");
	}
	if (auto* e = find(v, "bad_version"))
		p.bad_version = number_as<uint32_t>(*e, join(key, "bad_version"));
	if (auto* e = find(v, "core_count"))
		p.core_count = number(*e, join(key, "core_count"));
	if (auto* e = find(v, "shared_offset"))
		p.shared_offset = number(*e, join(key, "shared_offset"));
	if (auto* e = find(v, "interface_version"))
		p.interface_version = number(*e, join(key, "interface_version"));
}

void read_boot(const json& v, BootOverrides& b)
{
	const std::string key = "boot";
	table(v, key, {"x1_version", "x2_core_count", "x3_offset"});
	if (auto* e = find(v, "x1_version"))
		b.x1_version = number(*e, join(key, "x1_version"));
	if (auto* e = find(v, "x2_core_count"))
		b.x2_core_count = number(*e, join(key, "x2_core_count"));
	if (auto* e = find(v, "x3_offset"))
		b.x3_offset = number(*e, join(key, "x3_offset"));
}

constexpr std::string_view kPasNames[] = {"secure", "root", "realm", "ns"};

std::vector<PasRange> gpt(const json& v)
{
	std::vector<PasRange> out;
	std::size_t i = 0;
	for (const auto& e : list(v, "gpt")) {
		const std::string k = index("gpt", i++);
		table(e, k, {"base", "size", "pas"}, {"base", "size", "pas"});
		PasRange r{number(e["base"], join(k, "base")), number(e["size"], join(k, "size")),
		           string(e["pas"], join(k, "pas"))};
		if (std::find(std::begin(kPasNames), std::end(kPasNames), r.pas) == std::end(kPasNames))
			fail(join(k, "pas"), "unknown PAS '" + r.pas + "' (expected secure, root, realm or ns)");
		if (r.base % kPageSize != 0)
			fail(join(k, "base"), hex(r.base) + " is not 4 KiB aligned");
		if (r.size == 0 || r.size % kPageSize != 0)
			fail(join(k, "size"), hex(r.size) + " is not a non-zero multiple of 4 KiB");
		if (r.base > UINT64_MAX - r.size)
			fail(k, "base + size wraps past 2^64");
		for (std::size_t j = 0; j < out.size(); ++j)
			if (r.base < out[j].base + out[j].size && out[j].base < r.base + r.size)
				fail(k, "overlaps " + index("gpt", j) + " [" + hex(out[j].base) + ", " +
				            hex(out[j].base + out[j].size) + ")");
		out.push_back(std::move(r));
	}
	return out;
}

BootConfig from_tree(const json& root, std::string_view platform)
{
	BootConfig cfg = default_boot_config(platform);
	table(root, "", {"manifest", "faults", "fault_params", "boot", "gpt"});
	if (auto* p = find(root, "manifest"))
		read_manifest(*p, cfg.manifest);
	if (auto* p = find(root, "faults"))
		cfg.faults = faults(*p);
	if (auto* p = find(root, "fault_params"))
		read_fault_params(*p, cfg.params);
	if (auto* p = find(root, "boot"))
		read_boot(*p, cfg.boot);
	if (auto* p = find(root, "gpt"))
		cfg.gpt = gpt(*p);
	return cfg;
}

json from_toml(const toml::node& v, const std::string& key)
{
	if (const auto* t = v.as_table()) {
		json o = json::object();
		for (const auto& [k, e] : *t) {
			const std::string name(k.str());
			o[name] = from_toml(e, join(key, name));
		}
		return o;
	}
	if (const auto* a = v.as_array()) {
		json arr = json::array();
		std::size_t i = 0;
		for (const auto& e : *a)
			arr.push_back(from_toml(e, index(key, i++)));
		return arr;
	}
	if (const auto* x = v.as_string())
		return x->get();
	if (const auto* x = v.as_integer())
		return static_cast<int64_t>(x->get());
	if (const auto* x = v.as_floating_point())
		return x->get();
	if (const auto* x = v.as_boolean())
		return x->get();
	fail(key, "dates and times are not accepted here");
}

std::string lower(std::string s)
{
	std::transform(s.begin(), s.end(), s.begin(),
	               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	return s;
}

}  // namespace

BootConfig default_boot_config(std::string_view platform)
{
	BootConfig cfg;
	try {
		cfg.manifest = default_spec(platform);
	} catch (const std::invalid_argument& e) {
		throw ConfigError(e.what());
	}
	return cfg;
}

namespace {

// Bounds checked before any parser sees a configuration: it may come from a client over the socket.
constexpr std::size_t kMaxConfigBytes = 1u << 20;  // 1 MiB: a real one is a few KiB
constexpr unsigned kMaxConfigNesting = 32;         // the deepest list of a manifest is 5 levels

// The text is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): toml11 reads
// past the end of a string on some invalid bytes.
bool valid_utf8(std::string_view t, std::size_t& at)
{
	for (std::size_t i = 0; i < t.size();) {
		const auto c = static_cast<unsigned char>(t[i]);
		std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		if (n == 0 || i + n > t.size() || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4)) {
			at = i;
			return false;
		}
		for (std::size_t k = 1; k < n; ++k)
			if ((static_cast<unsigned char>(t[i + k]) & 0xC0) != 0x80) {
				at = i;
				return false;
			}
		const auto c1 = n > 1 ? static_cast<unsigned char>(t[i + 1]) : 0;
		if ((n == 3 && c == 0xE0 && c1 < 0xA0) || (n == 3 && c == 0xED && c1 >= 0xA0) ||
		    (n == 4 && c == 0xF0 && c1 < 0x90) || (n == 4 && c == 0xF4 && c1 >= 0x90)) {
			at = i;
			return false;
		}
		i += n;
	}
	return true;
}

// The deepest nesting of [ and { outside strings and comments (TOML and JSON alike): both parsers
// recurse per level, so thousands of them would exhaust the stack.
unsigned nesting(std::string_view t)
{
	unsigned depth = 0, deepest = 0;
	char quote = 0;
	bool comment = false;
	for (std::size_t i = 0; i < t.size(); ++i) {
		const char c = t[i];
		if (comment) {
			comment = c != '\n';
		} else if (quote != 0) {
			if (c == '\\' && quote == '"')
				++i;
			else if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '#') {
			comment = true;
		} else if (c == '[' || c == '{') {
			deepest = std::max(deepest, ++depth);
		} else if ((c == ']' || c == '}') && depth > 0) {
			--depth;
		}
	}
	return deepest;
}

void check_bounds(std::string_view text)
{
	if (text.size() > kMaxConfigBytes)
		throw ConfigError("the document is " + std::to_string(text.size()) + " bytes; at most " +
		                  std::to_string(kMaxConfigBytes) + " are accepted");
	if (std::size_t at = 0; !valid_utf8(text, at))
		throw ConfigError("the document is not valid UTF-8 (byte " + std::to_string(at) + ")");
	if (const unsigned d = nesting(text); d > kMaxConfigNesting)
		throw ConfigError("the document nests " + std::to_string(d) + " levels of [ or {; at most " +
		                  std::to_string(kMaxConfigNesting) + " are accepted");
}

}  // namespace

nlohmann::json parse_document(std::string_view text, Format fmt)
{
	check_bounds(text);
	json root;
	if (fmt == Format::Json) {
		try {
			root = json::parse(text.begin(), text.end());
		} catch (const json::exception& e) {
			throw ConfigError(std::string("invalid JSON: ") + e.what());
		}
	} else {
		if (const TomlHazard h = toml_hazard(text); h.line != 0) {
			char cp[16];
			std::snprintf(cp, sizeof cp, "U+%04X", static_cast<unsigned>(h.code_point));
			throw ConfigError(std::string("the TOML parser cannot read the character ") + cp + " (line " +
			                  std::to_string(h.line) + "); in a string, write it as an escape (\\u...)");
		}
		toml::table doc;
		try {
			doc = toml::parse(text, std::string_view("config.toml"));
		} catch (const toml::parse_error& e) {
			throw ConfigError("invalid TOML: " + std::string(e.description()) + " (line " +
			                  std::to_string(e.source().begin.line) + ", column " +
			                  std::to_string(e.source().begin.column) + ")");
		}
		root = from_toml(doc, "");
	}
	return root;
}

BootConfig parse_boot_config(std::string_view text, Format fmt, std::string_view platform)
{
	return from_tree(parse_document(text, fmt), platform);
}

BootConfig load_boot_config(const std::string& path, std::string_view platform)
{
	const auto dot = path.rfind('.');
	const std::string ext = dot == std::string::npos ? "" : lower(path.substr(dot));
	Format fmt;
	if (ext == ".json")
		fmt = Format::Json;
	else if (ext == ".toml")
		fmt = Format::Toml;
	else
		throw ConfigError(path + ": unknown config format (the name must end in .json or .toml)");
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw ConfigError(path + ": cannot open: " + std::strerror(errno));
	std::ostringstream text;
	text << in.rdbuf();
	if (in.bad())
		throw ConfigError(path + ": cannot read: " + std::strerror(errno));
	try {
		return parse_boot_config(text.str(), fmt, platform);
	} catch (const ConfigError& e) {
		throw ConfigError(path + ": " + e.what());
	}
}

std::string to_json(const BootConfig& c)
{
	using ojson = nlohmann::ordered_json;
	auto banks_json = [](const std::vector<Bank>& v) {
		ojson a = ojson::array();
		for (const auto& b : v)
			a.push_back({{"base", hex(b.base)}, {"size", hex(b.size)}});
		return a;
	};
	const Spec& s = c.manifest;
	ojson m;
	m["version"] = hex(s.version);
	m["plat_data"] = hex(s.plat_data);
	m["dram"] = banks_json(s.dram);
	m["ncoh"] = banks_json(s.ncoh);
	m["coh"] = banks_json(s.coh);
	m["consoles"] = ojson::array();
	for (const auto& con : s.consoles)
		m["consoles"].push_back({{"base", hex(con.base)},
		                         {"map_pages", con.map_pages},
		                         {"name", con.name},
		                         {"clk_in_hz", con.clk_in_hz},
		                         {"baud_rate", con.baud_rate},
		                         {"flags", hex(con.flags)}});
	m["smmus"] = ojson::array();
	for (const auto& sm : s.smmus)
		m["smmus"].push_back({{"base", hex(sm.base)}, {"r_base", hex(sm.r_base)}});
	m["rc_info_version"] = hex(s.rc_info_version);
	m["root_complexes"] = ojson::array();
	for (const auto& rc : s.root_complexes) {
		ojson ports = ojson::array();
		for (const auto& rp : rc.ports) {
			ojson bdfs = ojson::array();
			for (const auto& b : rp.bdfs)
				bdfs.push_back({{"base", hex(b.base)},
				                {"top", hex(b.top)},
				                {"off", b.off},
				                {"smmu_idx", b.smmu_idx}});
			ports.push_back({{"id", hex(rp.id)}, {"bdfs", bdfs}});
		}
		m["root_complexes"].push_back(
		    {{"ecam_base", hex(rc.ecam_base)}, {"segment", rc.segment}, {"ports", ports}});
	}

	ojson root;
	root["manifest"] = m;
	root["faults"] = ojson::array();
	for (Fault f : c.faults)
		root["faults"].push_back(std::string(fault_name(f)));
	root["fault_params"] = {{"dram_banks", c.params.dram_banks},
	                        {"bad_version", hex(c.params.bad_version)},
	                        {"core_count", c.params.core_count},
	                        {"shared_offset", hex(c.params.shared_offset)},
	                        {"interface_version", hex(c.params.interface_version)}};
	ojson boot = ojson::object();
	if (c.boot.x1_version)
		boot["x1_version"] = hex(*c.boot.x1_version);
	if (c.boot.x2_core_count)
		boot["x2_core_count"] = *c.boot.x2_core_count;
	if (c.boot.x3_offset)
		boot["x3_offset"] = hex(*c.boot.x3_offset);
	root["boot"] = boot;
	root["gpt"] = ojson::array();
	for (const auto& r : c.gpt)
		root["gpt"].push_back({{"base", hex(r.base)}, {"size", hex(r.size)}, {"pas", r.pas}});
	// A console name decoded from a shared page (el3ctl manifest --json) is any 7 bytes, not always UTF-8: such
	// bytes become U+FFFD rather than an exception (which ended el3ctl; found by fuzz_manifest).
	return root.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

BootRegisters cold_boot_registers(const BootConfig& c, uint64_t interface_version, uint64_t core_count,
                                  uint64_t shared_pa)
{
	auto faulted = [&](Fault f) { return std::find(c.faults.begin(), c.faults.end(), f) != c.faults.end(); };
	BootRegisters r;
	r.x1 = c.boot.x1_version.value_or(faulted(Fault::InterfaceVersion) ? c.params.interface_version
	                                                                   : interface_version);
	r.x2 = c.boot.x2_core_count.value_or(faulted(Fault::CpuCount) ? c.params.core_count : core_count);
	r.x3 =
	    shared_pa + c.boot.x3_offset.value_or(faulted(Fault::SharedBufferMisaligned) ? c.params.shared_offset : 0);
	return r;
}

std::vector<uint8_t> build_manifest(const BootConfig& c, uint64_t shared_pa, std::size_t capacity)
{
	return build_manifest(c.manifest, c.faults, c.params, shared_pa, capacity);
}

}  // namespace el3d::manifest
