#include "el3d/monitor/monitor.hpp"

#include "monitor_impl.hpp"

#include <cstring>

namespace el3d {

Monitor::Impl::Impl(std::unique_ptr<Carveout> c, MonitorOptions o)
    : carveout(std::move(c)), allocator(*carveout), boot(carveout->geometry().core_count), options(o)
{
	const auto& doc = carveout->state();
	if (auto it = doc.find("boot"); it != doc.end())
		boot.load(*it);
	for (const auto& e : seed_commands())
		commands.emplace(e.fid, Command{e.name, e.handler});
}

void Monitor::Impl::commit()
{
	nlohmann::json doc = carveout->state();
	doc["boot"] = boot.to_json();
	carveout->commit_state(doc);
}

Monitor::Monitor(std::unique_ptr<Carveout> carveout, MonitorOptions options)
    : impl_(std::make_unique<Impl>(std::move(carveout), options))
{
}

Monitor::~Monitor() = default;

const Geometry& Monitor::geometry() const { return impl_->carveout->geometry(); }
const Carveout& Monitor::carveout() const { return *impl_->carveout; }

MonitorStatus Monitor::status() const
{
	const Impl& m = *impl_;
	std::lock_guard lock(m.mu);
	MonitorStatus s;
	s.geometry = m.carveout->geometry();
	s.carveout_path = m.carveout->path();
	s.carveout_uuid = m.carveout->uuid_string();
	s.image_offset = m.carveout->image_offset();
	s.abi = "seed";
	s.strict_boot = m.options.strict_boot;
	s.top = m.allocator.top();
	s.regions = m.allocator.records();
	s.log_capacity = m.carveout->log_capacity();
	for (const auto& r : s.regions)
		s.allocations_after_boot += (r.flags & kAllocAfterBootComplete) ? 1 : 0;
	for (uint32_t i = 0; i < m.boot.core_count(); ++i) {
		const CpuStatus& c = m.boot.cpu(i);
		if (c.state != CpuBootState::Off || c.completions != 0) {
			s.cpus.push_back(c);
			s.cpus.back().cpu = i;
		}
	}
	s.boot_failure = m.boot.failure();
	s.epoch = m.carveout->epoch();
	s.activation = m.boot.activation();
	s.smc_calls = m.calls.load(std::memory_order_relaxed);
	return s;
}

void Monitor::reset()
{
	Impl& m = *impl_;
	std::lock_guard lock(m.mu);
	m.boot.clear();
	nlohmann::json doc = nlohmann::json::object();
	doc["boot"] = m.boot.to_json();
	m.carveout->reset(doc);
	m.allocator.reload();
}

bool Monitor::read_memory(uint64_t pa, uint64_t len, std::vector<uint8_t>& out) const
{
	const Carveout& c = *impl_->carveout;
	if (!c.in_image(pa, len))
		return false;
	out.resize(len);
	if (len != 0)
		std::memcpy(out.data(), c.ptr(pa), len);
	return true;
}

bool Monitor::write_memory(uint64_t pa, const uint8_t* data, uint64_t len)
{
	Carveout& c = *impl_->carveout;
	if (!c.in_image(pa, len))
		return false;
	if (len == 0)
		return true;
	std::memcpy(c.ptr(pa), data, len);
	return !c.sync(pa, len);
}

}  // namespace el3d
