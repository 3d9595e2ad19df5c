#pragma once
// The monitor's calls into the trace: SMCs and boot entries as events, named by the monitor.
#include "el3d/monitor/monitor.hpp"
#include "el3d/trace/trace.hpp"

namespace el3d::trace {

class MonitorRecorder final : public SmcObserver {
public:
	explicit MonitorRecorder(Tracer& t) : t_(t) {}
	void on_smc(const SmcRecord& r) override;
	void on_entry(uint32_t cpu, const Entry& e) override;

private:
	Tracer& t_;
};

}  // namespace el3d::trace
