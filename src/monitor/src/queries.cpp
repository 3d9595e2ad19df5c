// Read-only questions other components ask the monitor (the world switch, the memory API).
#include "monitor_impl.hpp"

namespace el3d {

bool Monitor::realm_world_disabled() const
{
	std::lock_guard lock(impl_->mu);
	return impl_->boot.failure().has_value();
}

uint64_t Monitor::activation() const
{
	std::lock_guard lock(impl_->mu);
	return impl_->boot.activation();
}

CpuBootState Monitor::cpu_state(uint32_t cpu) const
{
	const Impl& m = *impl_;
	if (cpu >= m.carveout->geometry().core_count)
		return CpuBootState::Off;
	std::lock_guard lock(m.mu);
	return m.boot.cpu(cpu).state;
}

std::optional<std::pair<uint64_t, Gpi>> Monitor::ns_access_fault(uint64_t pa, uint64_t len) const
{
	if (len == 0)
		return std::nullopt;
	const Impl& m = *impl_;
	std::lock_guard lock(m.mu);
	const uint64_t last = (pa + len - 1) & ~(kGranule - 1);
	for (uint64_t g = pa & ~(kGranule - 1);; g += kGranule) {
		const std::optional<Gpi> gpi = m.gpt.lookup(g);
		if (gpi && *gpi != Gpi::NonSecure && *gpi != Gpi::NonSecureOnly && *gpi != Gpi::Any)
			return std::make_pair(g, *gpi);
		if (g == last)
			return std::nullopt;
	}
}

}  // namespace el3d
