// Rules as text: their JSON form written back (what ListFaults and `el3ctl fault list --json` show), one-line
// descriptions for logs and el3ctl, condition text, and the --faults file (JSON or TOML through src/manifest's
// bounded reader, the one the boot configuration uses).
#include "el3d/faults/faults.hpp"

#include "el3d/manifest/boot_config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace el3d::faults {

using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& what)
{
	throw RuleError(where + ": " + field + ": " + what);
}

const char* trigger_name(Trigger t)
{
	switch (t) {
	case Trigger::Always: return "always";
	case Trigger::Nth: return "nth";
	case Trigger::Every: return "every";
	case Trigger::Probability: return "probability";
	case Trigger::Cycle: return "cycle";
	}
	return "?";
}

std::string hex(uint64_t v)
{
	char b[24];
	std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
	return b;
}

}  // namespace

bool Condition::holds(const std::array<uint64_t, 12>& x) const
{
	const uint64_t v = x[reg - 1] & mask;
	switch (op) {
	case Op::Eq: return v == value;
	case Op::Ne: return v != value;
	case Op::Lt: return v < value;
	case Op::Le: return v <= value;
	case Op::Gt: return v > value;
	case Op::Ge: return v >= value;
	}
	return false;
}

std::string Condition::text() const
{
	static const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
	std::string s = "x" + std::to_string(reg);
	if (mask != ~uint64_t{0})
		s += "&" + hex(mask);
	return s + ops[static_cast<int>(op)] + hex(value);
}

json to_json(const Rule& r)
{
	json j = json::object();
	if (!r.id.empty())  // a rule not added yet has none
		j["id"] = r.id;
	if (r.on == On::Entry)
		j["on"] = "entry";
	if (r.fid)
		j["fid"] = fid_label(*r.fid).find('/') == std::string::npos ? fid_label(*r.fid) : hex(*r.fid);
	if (r.cpu)
		j["cpu"] = *r.cpu;
	switch (r.trigger) {
	case Trigger::Always: break;
	case Trigger::Nth: j["nth"] = r.n; break;
	case Trigger::Every: j["every"] = r.n; break;
	case Trigger::Probability:
		j["probability"] = r.p;
		j["seed"] = r.seed;
		break;
	case Trigger::Cycle: j["cycle"] = {{"fire", r.n}, {"pass", r.pass}}; break;
	}
	if (!r.when.empty()) {
		json w = json::array();
		for (const Condition& c : r.when)
			w.push_back(c.text());
		j["when"] = w;
	}
	if (r.times)
		j["times"] = *r.times;
	if (r.result)
		j["result"] = result_label(r.fid.value_or(0), *r.result);
	if (r.delay_ms != 0)
		j["delay_ms"] = r.delay_ms;
	if (r.kill)
		j["kill"] = true;
	if (r.after_checks)
		j["after_checks"] = true;
	if (!r.manifest.empty())
		j["manifest"] = r.manifest;
	return j;
}

std::string describe(const Rule& r)
{
	std::string s = r.id + ": " + (r.on == On::Entry ? "cold boot entry" : r.fid ? fid_label(*r.fid) : "any FID");
	s += r.cpu ? " cpu" + std::to_string(*r.cpu) : " any cpu";
	for (const Condition& c : r.when)
		s += " when " + c.text();
	if (r.after_checks)
		s += " (after its checks)";
	s += std::string(" ") + trigger_name(r.trigger);
	if (r.trigger == Trigger::Nth || r.trigger == Trigger::Every)
		s += " " + std::to_string(r.n);
	else if (r.trigger == Trigger::Probability)
		s += " " + std::to_string(r.p) + " seed " + std::to_string(r.seed);
	else if (r.trigger == Trigger::Cycle)
		s += " fire " + std::to_string(r.n) + " pass " + std::to_string(r.pass);
	if (r.times)
		s += " times " + std::to_string(*r.times);
	s += " ->";
	if (r.delay_ms != 0)
		s += " delay " + std::to_string(r.delay_ms) + " ms";
	if (r.kill)
		s += " kill the session";
	else if (r.result)
		s += " " + result_label(r.fid.value_or(0), *r.result);
	else if (r.delay_ms != 0)
		s += " then the real call";
	for (const std::string& m : r.manifest)
		s += " manifest " + m;
	return s;
}

std::vector<Rule> parse_rules(std::string_view text_in, bool toml)
{
	json root;
	try {
		root = manifest::parse_document(text_in, toml ? manifest::Format::Toml : manifest::Format::Json);
	} catch (const manifest::ConfigError& e) {
		throw RuleError(e.what());
	}
	const json* list = &root;
	if (root.is_object()) {
		for (const auto& [k, v] : root.items())
			if (k != "faults")
				fail("the fault file", k.substr(0, 40), "unknown key (the rules go in `faults`)");
		if (!root.contains("faults"))
			fail("the fault file", "faults", "missing");
		list = &root["faults"];
	}
	if (!list->is_array())
		fail("the fault file", "faults", "must be a list of rules");
	if (list->size() > kMaxRules)
		fail("the fault file", "faults", "at most " + std::to_string(kMaxRules) + " rules");
	std::vector<Rule> out;
	for (std::size_t i = 0; i < list->size(); ++i)
		out.push_back(rule_from_json((*list)[i], "rule " + std::to_string(i + 1)));
	return out;
}

std::vector<Rule> load_rules(const std::string& path)
{
	const auto dot = path.rfind('.');
	std::string ext = dot == std::string::npos ? "" : path.substr(dot);
	std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	if (ext != ".json" && ext != ".toml")
		throw RuleError(path + ": unknown format (the name must end in .json or .toml)");
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw RuleError(path + ": cannot open: " + std::strerror(errno));
	std::ostringstream s;
	s << in.rdbuf();
	try {
		return parse_rules(s.str(), ext == ".toml");
	} catch (const RuleError& e) {
		throw RuleError(path + ": " + e.what());
	}
}

}  // namespace el3d::faults
