#include "el3d/worldswitch/world_switch.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace el3d::ws {

const char* rmi_error_name(RmiError e)
{
	switch (e) {
	case RmiError::None: return "none";
	case RmiError::NoRmm: return "no RMM waiting";
	case RmiError::QueueFull: return "queue full";
	case RmiError::RmmGone: return "RMM gone";
	case RmiError::GaveUp: return "caller gave up";
	}
	return "?";
}

struct WorldSwitch::Pending {
	enum class Stage { Queued, Held, Done, Failed };
	Rmi rmi;
	Stage stage = Stage::Queued;
	RmiRegs result{};
	RmiError error = RmiError::None;
	bool abandoned = false;
};

struct WorldSwitch::Slot {
	std::deque<std::shared_ptr<Pending>> queue;
	std::shared_ptr<Pending> held;
	bool rmm_waiting = false;
	uint64_t served = 0;
	uint64_t dropped = 0;
	std::condition_variable rmm_cv;     // the RMM waits here for an RMI
	std::condition_variable caller_cv;  // callers wait here for their results
};

WorldSwitch::WorldSwitch(unsigned cpus, unsigned queue_limit, std::chrono::milliseconds poll)
    : queue_limit_(std::max(queue_limit, 1u)), poll_(poll)
{
	for (unsigned i = 0; i < cpus; ++i)
		slots_.push_back(std::make_unique<Slot>());
}

WorldSwitch::~WorldSwitch() = default;

RmiError WorldSwitch::call(unsigned cpu, const Rmi& rmi, bool fail_fast, const GaveUp& gave_up, RmiRegs& out)
{
	std::unique_lock lock(mu_);
	Slot& s = *slots_.at(cpu);
	if (fail_fast && !(s.rmm_waiting && s.queue.empty()))
		return RmiError::NoRmm;
	if (s.queue.size() >= queue_limit_)
		return RmiError::QueueFull;
	auto p = std::make_shared<Pending>();
	p->rmi = rmi;
	s.queue.push_back(p);
	s.rmm_cv.notify_all();
	for (;;) {
		if (p->stage == Pending::Stage::Done) {
			// Completed while the caller was giving up (between two polls): it is gone all the same.
			if (gave_up && gave_up()) {
				s.dropped += 1;
				spdlog::warn("cpu{} RMI {:#x} completed with x0={:#x} as its caller gave up: result dropped", cpu,
				             rmi.fid, p->result[0]);
				return RmiError::GaveUp;
			}
			out = p->result;
			return RmiError::None;
		}
		if (p->stage == Pending::Stage::Failed)
			return p->error;
		if (gave_up && gave_up()) {
			if (p->stage == Pending::Stage::Queued)
				s.queue.erase(std::find(s.queue.begin(), s.queue.end(), p));
			else
				p->abandoned = true;
			return RmiError::GaveUp;
		}
		s.caller_cv.wait_for(lock, poll_);
	}
}

bool WorldSwitch::complete(unsigned cpu, const RmiRegs& result)
{
	std::lock_guard lock(mu_);
	Slot& s = *slots_.at(cpu);
	if (!s.held)
		return false;
	std::shared_ptr<Pending> p = std::move(s.held);
	s.held.reset();
	s.served += 1;
	if (p->abandoned) {
		s.dropped += 1;
		spdlog::warn("cpu{} RMI {:#x} completed with x0={:#x} after its caller gave up: result dropped", cpu,
		             p->rmi.fid, result[0]);
		return true;
	}
	p->result = result;
	p->stage = Pending::Stage::Done;
	s.caller_cv.notify_all();
	return true;
}

bool WorldSwitch::wait(unsigned cpu, Rmi& next, const GaveUp& gone)
{
	std::unique_lock lock(mu_);
	Slot& s = *slots_.at(cpu);
	s.rmm_waiting = true;
	for (;;) {
		if (!s.queue.empty() && !s.held) {
			s.held = std::move(s.queue.front());
			s.queue.pop_front();
			s.held->stage = Pending::Stage::Held;
			s.rmm_waiting = false;
			next = s.held->rmi;
			return true;
		}
		if (gone && gone()) {
			s.rmm_waiting = false;
			return false;
		}
		s.rmm_cv.wait_for(lock, poll_);
	}
}

std::optional<Rmi> WorldSwitch::held(unsigned cpu) const
{
	std::lock_guard lock(mu_);
	const Slot& s = *slots_.at(cpu);
	if (!s.held)
		return std::nullopt;
	return s.held->rmi;
}

void WorldSwitch::leave(unsigned cpu)
{
	std::lock_guard lock(mu_);
	Slot& s = *slots_.at(cpu);
	s.rmm_waiting = false;
	if (!s.held)
		return;
	std::shared_ptr<Pending> p = std::move(s.held);
	s.held.reset();
	spdlog::error("cpu{} the RMM left while it held RMI {:#x}{}", cpu, p->rmi.fid,
	              p->abandoned ? " (its caller had given up already)" : ": its caller gets an error");
	p->stage = Pending::Stage::Failed;
	p->error = RmiError::RmmGone;
	s.caller_cv.notify_all();
}

CpuView WorldSwitch::view(unsigned cpu) const
{
	std::lock_guard lock(mu_);
	const Slot& s = *slots_.at(cpu);
	CpuView v;
	v.state = s.held ? RmiState::Serving : s.rmm_waiting ? RmiState::Waiting : RmiState::Absent;
	v.fid = s.held ? s.held->rmi.fid : 0;
	v.queued = static_cast<unsigned>(s.queue.size());
	v.served = s.served;
	v.dropped = s.dropped;
	return v;
}

}  // namespace el3d::ws
