// Rules from their JSON form (a --faults file's TOML is turned into the same tree), checked field by field with the
// rule and the field named in every refusal, and checked against the ABI profile (validate): rules come from clients
// over the socket too.
#include "el3d/faults/faults.hpp"

#include "el3d/manifest/boot_config.hpp"
#include "el3d/manifest/manifest.hpp"
#include "el3d/smc.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace el3d::faults {

using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& what)
{
	throw RuleError(where + (field.empty() ? "" : ": " + field) + ": " + what);
}

// A register-sized number: a JSON integer, or a string "0x1000", "4096".
uint64_t number(const json& v, const std::string& where, const std::string& field)
{
	if (v.is_number_unsigned())
		return v.get<uint64_t>();
	if (v.is_number_integer()) {
		if (v.get<int64_t>() < 0)
			fail(where, field, "must not be negative");
		return static_cast<uint64_t>(v.get<int64_t>());
	}
	if (v.is_string()) {
		const std::string s = v.get<std::string>();
		char* end = nullptr;
		errno = 0;
		const unsigned long long n = s.empty() || s[0] == '-' ? 0 : std::strtoull(s.c_str(), &end, 0);
		if (!s.empty() && s[0] != '-' && errno == 0 && *end == '\0')
			return n;
		fail(where, field, "'" + s.substr(0, 40) + "' is not a number");
	}
	fail(where, field, "must be a number");
}

std::string text(const json& v, const std::string& where, const std::string& field, std::size_t max = 256)
{
	if (!v.is_string())
		fail(where, field, "must be a string");
	std::string s = v.get<std::string>();
	if (s.size() > max)
		fail(where, field, "longer than " + std::to_string(max) + " characters");
	return s;
}

// "x2>0x1000", "x1&0xfff==0", "x3 != 48": one register, an optional mask, a comparison, a number.
Condition condition(std::string s, const std::string& where)
{
	s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; }), s.end());
	const std::string field = "when '" + s.substr(0, 40) + "'";
	Condition c;
	if (s.size() < 2 || (s[0] != 'x' && s[0] != 'X'))
		fail(where, field, "must start with a register x1..x12");
	std::size_t i = 1;
	unsigned reg = 0;
	while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && reg < 100)
		reg = reg * 10 + static_cast<unsigned>(s[i++] - '0');
	if (reg < 1 || reg > 12)
		fail(where, field, "the register must be x1..x12");
	c.reg = reg;
	auto num = [&](std::size_t from, std::size_t to) {
		const std::string t = s.substr(from, to - from);
		char* end = nullptr;
		errno = 0;
		const unsigned long long v = t.empty() || t[0] == '-' ? 0 : std::strtoull(t.c_str(), &end, 0);
		if (t.empty() || t[0] == '-' || errno != 0 || *end != '\0')
			fail(where, field, "'" + t.substr(0, 24) + "' is not a number");
		return static_cast<uint64_t>(v);
	};
	const std::size_t op_at = s.find_first_of("=!<>", i);
	if (op_at == std::string::npos)
		fail(where, field, "needs a comparison: == != < <= > >=");
	if (i < s.size() && s[i] == '&')
		c.mask = num(i + 1, op_at);
	else if (i != op_at)
		fail(where, field, "expected & or a comparison after x" + std::to_string(reg));
	std::size_t v_at = op_at + 1;
	const char a = s[op_at], b = op_at + 1 < s.size() ? s[op_at + 1] : '\0';
	if (a == '=' && b == '=')
		c.op = Condition::Op::Eq, ++v_at;
	else if (a == '!' && b == '=')
		c.op = Condition::Op::Ne, ++v_at;
	else if (a == '<' && b == '=')
		c.op = Condition::Op::Le, ++v_at;
	else if (a == '>' && b == '=')
		c.op = Condition::Op::Ge, ++v_at;
	else if (a == '<')
		c.op = Condition::Op::Lt;
	else if (a == '>')
		c.op = Condition::Op::Gt;
	else
		fail(where, field, "needs a comparison: == != < <= > >=");
	c.value = num(v_at, s.size());
	return c;
}

}  // namespace

Rule rule_from_json(const json& j, const std::string& where_in)
{
	if (!j.is_object())
		fail(where_in, "", "a rule must be an object");
	Rule r;
	std::string where = where_in;
	if (auto it = j.find("id"); it != j.end()) {
		r.id = text(*it, where, "id", kMaxIdLength);
		if (r.id.empty() || !std::all_of(r.id.begin(), r.id.end(), [](unsigned char c) {
			    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
		    }))
			fail(where, "id", "letters, digits, '-', '_' and '.' only, not empty");
		where += " (id " + r.id + ")";
	}
	static const char* known[] = {"id",    "on",   "fid",    "cpu",  "nth",      "every",  "probability",
	                              "seed",  "cycle", "always", "when", "times",    "result", "delay_ms",
	                              "kill",  "manifest", "after_checks"};
	for (const auto& [k, v] : j.items())
		if (std::find(std::begin(known), std::end(known), k) == std::end(known))
			fail(where, k.substr(0, 40), "unknown field (fields: id, on, fid, cpu, nth, every, probability, seed, "
			                             "cycle, always, when, times, result, delay_ms, kill, manifest, after_checks)");
	if (auto it = j.find("on"); it != j.end()) {
		const std::string on = text(*it, where, "on");
		if (on == "entry")
			r.on = On::Entry;
		else if (on != "smc")
			fail(where, "on", "'" + on.substr(0, 40) + "': smc or entry");
	}
	if (auto it = j.find("fid"); it != j.end()) {
		if (it->is_string()) {
			const std::string f = text(*it, where, "fid", 64);
			if (f != "all" && !(r.fid = parse_fid(f)))
				fail(where, "fid", "'" + f + "' is neither a FID name nor a 32-bit number");
		} else {
			const uint64_t f = number(*it, where, "fid");
			if (f > UINT32_MAX)
				fail(where, "fid", "a FID is 32 bits");
			r.fid = static_cast<uint32_t>(f);
		}
	}
	if (auto it = j.find("cpu"); it != j.end() && !(it->is_string() && it->get<std::string>() == "all")) {
		const uint64_t c = number(*it, where, "cpu");
		if (c > 65535)
			fail(where, "cpu", "out of range");
		r.cpu = static_cast<uint32_t>(c);
	}
	int triggers = 0;
	if (auto it = j.find("nth"); it != j.end()) {
		r.trigger = Trigger::Nth, ++triggers;
		if ((r.n = number(*it, where, "nth")) == 0)
			fail(where, "nth", "counts from 1");
	}
	if (auto it = j.find("every"); it != j.end()) {
		r.trigger = Trigger::Every, ++triggers;
		if ((r.n = number(*it, where, "every")) == 0)
			fail(where, "every", "must be at least 1");
	}
	if (auto it = j.find("probability"); it != j.end()) {
		r.trigger = Trigger::Probability, ++triggers;
		if (!it->is_number() || std::isnan(it->get<double>()) || it->get<double>() < 0 || it->get<double>() > 1)
			fail(where, "probability", "a number from 0 to 1");
		r.p = it->get<double>();
		if (auto s = j.find("seed"); s != j.end())
			r.seed = number(*s, where, "seed");
	} else if (j.contains("seed")) {
		fail(where, "seed", "only with probability");
	}
	if (auto it = j.find("cycle"); it != j.end()) {
		r.trigger = Trigger::Cycle, ++triggers;
		if (it->is_array() && it->size() == 2) {
			r.n = number((*it)[0], where, "cycle[0]");
			r.pass = number((*it)[1], where, "cycle[1]");
		} else if (it->is_object() && it->contains("fire") && it->contains("pass") && it->size() == 2) {
			r.n = number((*it)["fire"], where, "cycle.fire");
			r.pass = number((*it)["pass"], where, "cycle.pass");
		} else {
			fail(where, "cycle", "{\"fire\": F, \"pass\": P} or [F, P]");
		}
		if (r.n == 0)
			fail(where, "cycle", "fire must be at least 1");
	}
	if (auto it = j.find("always"); it != j.end()) {
		if (!it->is_boolean() || !it->get<bool>())
			fail(where, "always", "only true");
		++triggers;
	}
	if (triggers > 1)
		fail(where, "", "one trigger at most: nth, every, probability, cycle or always");
	if (auto it = j.find("when"); it != j.end()) {
		std::vector<std::string> parts;
		if (it->is_array()) {
			if (it->size() > kMaxConditions)
				fail(where, "when", "at most " + std::to_string(kMaxConditions) + " conditions");
			for (const json& c : *it)
				parts.push_back(text(c, where, "when", 128));
		} else {
			const std::string w = text(*it, where, "when", 1024);
			for (std::size_t from = 0;;) {
				const std::size_t at = w.find("&&", from);
				parts.push_back(w.substr(from, at == std::string::npos ? std::string::npos : at - from));
				if (at == std::string::npos)
					break;
				from = at + 2;
			}
		}
		if (parts.size() > kMaxConditions)
			fail(where, "when", "at most " + std::to_string(kMaxConditions) + " conditions");
		for (const std::string& p : parts)
			r.when.push_back(condition(p, where));
	}
	if (auto it = j.find("times"); it != j.end())
		if ((r.times = number(*it, where, "times")) == 0u)
			fail(where, "times", "must be at least 1");
	if (auto it = j.find("result"); it != j.end()) {
		if (!it->is_string() && !it->is_number_integer())
			fail(where, "result", "a result name or a number");
		const std::string s = it->is_string()            ? text(*it, where, "result", 64)
		                      : it->is_number_unsigned() ? std::to_string(it->get<uint64_t>())
		                                                 : std::to_string(it->get<int64_t>());
		if (!(r.result = parse_result(s)))
			fail(where, "result", "'" + s + "' is neither a result name (E_RMM_..., FIRME_..., SMC_UNK) nor a number");
	}
	if (auto it = j.find("delay_ms"); it != j.end())
		if ((r.delay_ms = number(*it, where, "delay_ms")) > kMaxDelayMs)
			fail(where, "delay_ms", "at most " + std::to_string(kMaxDelayMs));
	if (auto it = j.find("kill"); it != j.end()) {
		if (!it->is_boolean())
			fail(where, "kill", "true or false");
		r.kill = it->get<bool>();
	}
	if (auto it = j.find("after_checks"); it != j.end()) {
		if (!it->is_boolean())
			fail(where, "after_checks", "true or false");
		r.after_checks = it->get<bool>();
	}
	if (auto it = j.find("manifest"); it != j.end()) {
		if (!it->is_array() || it->empty() || it->size() > 32)
			fail(where, "manifest", "a list of 1 to 32 Boot Manifest fault names");
		for (const json& f : *it) {
			const std::string name = text(f, where, "manifest", 64);
			if (!manifest::parse_fault(name))
				fail(where, "manifest", "unknown fault '" + name + "' (faults: " + manifest::fault_names() + ")");
			r.manifest.push_back(name);
		}
	}
	return r;
}

void validate(const Rule& r, std::string_view abi)
{
	const std::string where = "rule " + (r.id.empty() ? std::string("(no id)") : r.id);
	if (r.on == On::Entry) {
		if (r.fid || r.result || r.kill || r.delay_ms != 0 || !r.when.empty() || r.after_checks)
			fail(where, "", "an entry rule takes cpu, a trigger, times and manifest only");
		if (r.manifest.empty())
			fail(where, "manifest", "an entry rule needs the Boot Manifest faults it applies");
		return;
	}
	if (!r.manifest.empty())
		fail(where, "manifest", "only for entry rules (\"on\": \"entry\")");
	if (!r.result && !r.kill && r.delay_ms == 0)
		fail(where, "", "needs an action: result, delay_ms or kill");
	if (r.kill && r.result)
		fail(where, "", "kill ends the session: it answers no result");
	if (r.fid && *r.fid == EL3_FID_RMM_RMI_REQ_COMPLETE)
		fail(where, "fid", "RMM_RMI_REQ_COMPLETE is the world switch's, not a call EL3 answers");
	if (r.after_checks) {
		if (!r.fid || *r.fid != EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN)
			fail(where, "after_checks", "only RMM_ATTEST_GET_PLAT_TOKEN has this check point");
		if (r.kill || r.delay_ms != 0 || !r.result)
			fail(where, "after_checks", "takes a result only (no delay, no kill)");
	}
	if (r.result) {
		const std::vector<std::string> allowed = allowed_results(r.fid.value_or(0), abi);
		const std::string got = result_label(r.fid.value_or(0), *r.result);
		if (std::find(allowed.begin(), allowed.end(), got) == allowed.end()) {
			std::string list;
			for (const std::string& a : allowed)
				list += (list.empty() ? "" : ", ") + a;
			fail(where, "result",
			     got + " is not a result " + (r.fid ? fid_label(*r.fid) : std::string("every FID")) + " may return under the " +
			         std::string(abi) + " profile; allowed: " + list);
		}
	}
}

}  // namespace el3d::faults
