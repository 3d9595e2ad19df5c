// The rules in force and their counters. One mutex: decide() is a few comparisons per rule, and the monitor calls it
// only while a rule exists (empty() is a relaxed load), so an el3d without faults pays nothing for it.
#include "el3d/faults/faults.hpp"

#include <algorithm>

namespace el3d::faults {

Injector::Injector(std::string abi) : abi_(std::move(abi)) {}

std::string Injector::add(Rule r)
{
	std::lock_guard lock(mu_);
	if (rules_.size() >= kMaxRules)
		throw RuleError("at most " + std::to_string(kMaxRules) + " rules; `el3ctl fault clear` first");
	if (r.id.empty()) {
		// The first free "f<n>": a user's own ids may look the same.
		auto taken = [&](const std::string& id) {
			return std::any_of(rules_.begin(), rules_.end(), [&](const Live& l) { return l.s.rule.id == id; });
		};
		uint64_t n = next_id_;
		do
			r.id = "f" + std::to_string(n++);
		while (taken(r.id));
		validate(r, abi_);
		next_id_ = n;  // a refused rule uses up no id
	} else if (std::any_of(rules_.begin(), rules_.end(), [&](const Live& l) { return l.s.rule.id == r.id; })) {
		throw RuleError("rule " + r.id + ": id: a rule with this id exists already");
	}
	validate(r, abi_);
	Live l;
	l.s.rule = std::move(r);
	l.rng.seed(l.s.rule.seed);
	rules_.push_back(std::move(l));
	count_.store(rules_.size(), std::memory_order_relaxed);
	return rules_.back().s.rule.id;
}

std::vector<RuleStatus> Injector::list() const
{
	std::lock_guard lock(mu_);
	std::vector<RuleStatus> out;
	for (const Live& l : rules_)
		out.push_back(l.s);
	return out;
}

std::size_t Injector::clear(const std::string& id)
{
	std::lock_guard lock(mu_);
	const std::size_t before = rules_.size();
	if (id.empty())
		rules_.clear();
	else
		rules_.erase(std::remove_if(rules_.begin(), rules_.end(), [&](const Live& l) { return l.s.rule.id == id; }),
		             rules_.end());
	count_.store(rules_.size(), std::memory_order_relaxed);
	return before - rules_.size();
}

// The call was picked (and counted in `matched`): does the trigger fire on it?
bool Injector::fires(Live& l)
{
	const Rule& r = l.s.rule;
	if (r.times && l.s.fired >= *r.times)
		return false;
	const uint64_t k = l.s.matched;  // this call's number among the picked ones, from 1
	bool f = false;
	switch (r.trigger) {
	case Trigger::Always: f = true; break;
	case Trigger::Nth: f = k == r.n; break;
	case Trigger::Every: f = k % r.n == 0; break;
	case Trigger::Probability:
		// One draw per picked call, fired or not: the same seed and the same calls give the same answers.
		f = std::uniform_real_distribution<double>(0.0, 1.0)(l.rng) < r.p;
		break;
	case Trigger::Cycle: f = (k - 1) % (r.n + r.pass) < r.n; break;
	}
	if (f)
		++l.s.fired;
	return f;
}

std::optional<Decision> Injector::decide(uint32_t cpu, uint32_t fid, const std::array<uint64_t, 12>& x, Stage stage)
{
	std::lock_guard lock(mu_);
	for (Live& l : rules_) {
		const Rule& r = l.s.rule;
		if (r.on != On::Smc || r.after_checks != (stage == Stage::Checked))
			continue;
		if ((r.fid && *r.fid != fid) || (r.cpu && *r.cpu != cpu))
			continue;
		if (!std::all_of(r.when.begin(), r.when.end(), [&](const Condition& c) { return c.holds(x); }))
			continue;
		++l.s.matched;
		if (fires(l))
			return Decision{r.id, r.result, r.delay_ms, r.kill, l.s.fired};
	}
	return std::nullopt;
}

std::optional<std::pair<std::string, std::vector<std::string>>> Injector::decide_entry(uint32_t cpu)
{
	std::lock_guard lock(mu_);
	std::optional<std::pair<std::string, std::vector<std::string>>> out;
	for (Live& l : rules_) {
		const Rule& r = l.s.rule;
		if (r.on != On::Entry || (r.cpu && *r.cpu != cpu))
			continue;
		++l.s.matched;
		if (!fires(l))
			continue;
		if (!out)
			out.emplace(r.id, std::vector<std::string>{});
		for (const std::string& m : r.manifest)
			if (std::find(out->second.begin(), out->second.end(), m) == out->second.end())
				out->second.push_back(m);
	}
	return out;
}

}  // namespace el3d::faults
