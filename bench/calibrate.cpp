#include "calibrate.hpp"

#include "process.hpp"
#include "transfer.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>
#include <vector>

namespace el3d::bench {

namespace {



void pin_self(int cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (::sched_setaffinity(0, sizeof(one), &one) != 0)
		throw std::system_error(errno, std::generic_category(), "sched_setaffinity");
}

Latency ping_pong(int server_cpu, uint64_t warmup, uint64_t calls)
{
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		throw std::system_error(errno, std::generic_category(), "socketpair");
	const pid_t parent = ::getpid();
	const pid_t pid = ::fork();
	if (pid < 0) {
		const int e = errno;
		::close(sv[0]);
		::close(sv[1]);
		throw std::system_error(e, std::generic_category(), "fork");
	}
	if (pid == 0) {
		::prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (::getppid() != parent)
			::_exit(1);
		::close(sv[0]);
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(server_cpu, &one);
		::sched_setaffinity(0, sizeof(one), &one);
		char buf[kRawMessage];
		while (transfer(sv[1], buf, false) && transfer(sv[1], buf, true)) {
		}
		::_exit(0);
	}
	::close(sv[1]);
	char buf[kRawMessage] = {};
	std::vector<int64_t> ns;
	ns.reserve(calls);
	bool ok = true;
	pin_self(0);
	for (uint64_t i = 0; ok && i < warmup + calls; ++i) {
		if (i % 1024 == 0 && interrupted())
			break;
		const auto t0 = Clock::now();
		ok = transfer(sv[0], buf, true) && transfer(sv[0], buf, false);
		const auto t1 = Clock::now();
		if (i >= warmup)
			ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
	}
	::close(sv[0]);  // the echo process reads EOF and exits
	int st = 0;
	while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	place_this_process(Placement::Unpinned);
	check_interrupted();
	if (!ok)
		throw std::runtime_error("raw Unix socket ping-pong: the echo process went away");
	return summarize(std::move(ns));
}

}  // namespace

RawUds raw_uds_ping_pong(uint64_t warmup, uint64_t calls)
{
	RawUds r;
	r.same_cpu = ping_pong(0, warmup, calls);
	cpu_set_t mask;
	if (::sched_getaffinity(0, sizeof(mask), &mask) == 0 && CPU_ISSET(1, &mask))
		r.split_cpu = ping_pong(1, warmup, calls);
	return r;
}

}  // namespace el3d::bench
