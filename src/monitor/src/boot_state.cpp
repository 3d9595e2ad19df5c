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

bool BootState::any_entered() const
{
	for (bool e : entered_)
		if (e)
			return true;
	return false;
}

bool BootState::any_ran() const
{
	for (const auto& c : cpus_)
		if (c.state != CpuBootState::Off)
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
	for (uint32_t i = 0; i < cpus_.size(); ++i)
		entered_[i] = false;
}

void BootState::new_activation()
{
	++activation_;
	for (uint32_t i = 0; i < cpus_.size(); ++i) {
		cpus_[i].state = CpuBootState::Off;
		entered_[i] = false;
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
			if (n >= cpus_.size())
				continue;
			auto& s = cpus_[n];
			s.state = state_from(c.value("state", std::string("off")));
			s.boot_result = c.value("result", int64_t{0});
			s.completions = c.value("completions", uint64_t{0});
			s.token = c.value("token", uint64_t{0});
			s.entries = c.value("entries", uint64_t{0});
			entered_[n] = c.value("entered", false);
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
	for (uint32_t i = 0; i < cpus_.size(); ++i) {
		cpus_[i] = CpuStatus{.cpu = i};
		entered_[i] = false;
	}
	failure_.reset();
	activation_ = 1;
	started_ = false;
}

}  // namespace el3d
