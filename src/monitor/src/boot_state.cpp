#include "monitor_impl.hpp"

#include <stdexcept>

namespace el3d {

namespace {
CpuBootState state_from(const std::string& s)
{
	if (s == "booting") return CpuBootState::Booting;
	if (s == "booted") return CpuBootState::Booted;
	if (s == "failed") return CpuBootState::Failed;
	return CpuBootState::Off;
}
}  // namespace

BootState::Cpu& BootState::record(uint32_t n)
{
	auto [it, added] = cpus_.try_emplace(n);
	if (added)
		it->second.status.cpu = n;
	return it->second;
}

const CpuStatus& BootState::cpu(uint32_t n) const
{
	static const CpuStatus off{};
	const auto it = cpus_.find(n);
	return it == cpus_.end() ? off : it->second.status;
}

bool BootState::entered(uint32_t n) const
{
	const auto it = cpus_.find(n);
	return it != cpus_.end() && it->second.entered;
}

bool BootState::any_entered() const
{
	for (const auto& [n, c] : cpus_)
		if (c.entered)
			return true;
	return false;
}

bool BootState::any_ran() const
{
	for (const auto& [n, c] : cpus_)
		if (c.status.state != CpuBootState::Off)
			return true;
	return false;
}

bool BootState::any_attached() const
{
	for (bool a : attached_)
		if (a)
			return true;
	return false;
}

void BootState::end_activation()
{
	for (auto& [n, c] : cpus_)
		c.entered = false;
}

void BootState::new_activation()
{
	++activation_;
	for (auto& [n, c] : cpus_) {
		c.status.state = CpuBootState::Off;
		c.entered = false;
	}
}

void BootState::load(const nlohmann::json& j)
{
	clear();
	// What save() wrote: an object, "cpus" an array of objects, "failure" an object (type errors of the
	// fields themselves come from json's value()).
	if (!j.is_object())
		throw std::invalid_argument("not an object");
	activation_ = j.value("activation", uint64_t{1});
	started_ = j.value("started", false);
	if (auto it = j.find("cpus"); it != j.end()) {
		if (!it->is_array())
			throw std::invalid_argument("'cpus' is not an array");
		for (const auto& c : *it) {
			if (!c.is_object())
				throw std::invalid_argument("a 'cpus' entry is not an object");
			const auto n = c.value("cpu", uint32_t{0});
			if (n >= core_count_)
				continue;
			auto& [s, entered] = record(n);
			s.state = state_from(c.value("state", std::string("off")));
			s.boot_result = c.value("result", int64_t{0});
			s.completions = c.value("completions", uint64_t{0});
			s.token = c.value("token", uint64_t{0});
			s.entries = c.value("entries", uint64_t{0});
			entered = c.value("entered", false);
		}
	}
	if (auto it = j.find("failure"); it != j.end() && !it->is_null()) {
		if (!it->is_object())
			throw std::invalid_argument("'failure' is not an object");
		failure_ = BootFailure{it->value("cpu", uint32_t{0}), it->value("code", int64_t{0})};
	}
}

void BootState::clear()
{
	cpus_.clear();
	failure_.reset();
	activation_ = 1;
	started_ = false;
}

}  // namespace el3d
