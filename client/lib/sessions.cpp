// The CPU sessions of this process (sessions.hpp).
#include "sessions.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace el3d::client {

namespace {

// The calling thread's CPU for monitor_call().
thread_local uint64_t t_bound = 0;
thread_local unsigned t_bound_cpu = 0;

std::atomic<bool> g_ending{false};
thread_local bool t_ending_thread = false;  // this thread runs the exit after a failed boot

}  // namespace

Registry& registry()
{
	static Registry* r = new Registry;
	return *r;
}

std::shared_ptr<CpuEntry> find(const el3_cpu* h)
{
	Registry& r = registry();
	std::lock_guard l(r.mu);
	auto it = r.cpus.find(id_of(h));
	return it == r.cpus.end() ? nullptr : it->second;
}

std::shared_ptr<CpuEntry> take(uint64_t id)
{
	Registry& r = registry();
	std::lock_guard l(r.mu);
	auto it = r.cpus.find(id);
	if (it == r.cpus.end())
		return nullptr;
	auto e = std::move(it->second);
	r.cpus.erase(it);
	return e;
}

void close_session(CpuEntry& e)
{
	std::unique_lock l(e.mu, std::try_to_lock);
	if (!l.owns_lock()) {
		e.session->cancel();
		l.lock();
	}
	e.session.reset();
}

void bind(uint64_t id, unsigned cpu)
{
	t_bound = id;
	t_bound_cpu = cpu;
}

uint64_t bound_id() { return t_bound; }

unsigned bound_cpu() { return t_bound_cpu; }

void end_process_after_failed_boot()
{
	// glibc's exit() must not run in two threads at once: the first failing CPU ends the process.
	static pthread_mutex_t ending = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&ending);
	t_ending_thread = true;
	g_ending.store(true);
	std::vector<std::shared_ptr<CpuEntry>> all;
	{
		Registry& r = registry();
		std::lock_guard l(r.mu);
		for (const auto& [id, e] : r.cpus)
			all.push_back(e);
	}
	// Each CPU's call lock is taken and kept: a call in flight finishes (woken if it waits on EL3),
	// and no call starts again before the process is gone.
	for (const auto& e : all) {
		std::unique_lock l(e->mu, std::try_to_lock);
		if (!l.owns_lock()) {
			if (e->session)
				e->session->cancel();
			l.lock();
		}
		l.release();
	}
	std::fflush(nullptr);
	std::exit(EXIT_FAILURE);
}

bool ending()
{
	if (!g_ending.load(std::memory_order_relaxed))
		return false;
	if (t_ending_thread)
		return true;
	for (;;)
		::pause();
}

int set_error(el3_error* err, int code, const std::string& msg)
{
	if (err != nullptr) {
		err->code = code;
		std::snprintf(err->message, sizeof(err->message), "%s", msg.c_str());
	}
	return code;
}

int ok(el3_error* err)
{
	if (err != nullptr) {
		err->code = EL3_OK;
		err->message[0] = '\0';
	}
	return EL3_OK;
}

}  // namespace el3d::client
