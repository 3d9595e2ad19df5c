// el3_boot_complete() with a failure ends the process: also when every CPU of the RMM fails its
// boot at the same instant, from its own thread.
#include "el3d/el3_client.h"
#include "process.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace el3d::test;

namespace {

constexpr unsigned kCpus = 8;  // the fvp platform's CPU count

// A child process enters every CPU, then has all of them report a failed boot together. Its exit
// status: 42 it could not enter, 43 an el3_boot_complete() returned, else what ended it.
int all_cpus_fail_in_a_child(const std::string& endpoint)
{
	const pid_t pid = ::fork();
	if (pid == 0) {
		el3_client* c;
		if (el3_connect(endpoint.c_str(), &c, nullptr) != EL3_OK)
			::_exit(42);
		std::vector<el3_cpu*> cpus(kCpus);
		for (unsigned n = 0; n < kCpus; ++n)
			if (el3_cpu_enter(c, n, n == 0 ? EL3_ENTRY_COLD : EL3_ENTRY_WARM, &cpus[n], nullptr, nullptr) != EL3_OK)
				::_exit(42);
		std::atomic<unsigned> ready{0};
		std::vector<std::thread> threads;
		for (unsigned n = 0; n < kCpus; ++n)
			threads.emplace_back([&, n] {
				ready.fetch_add(1);
				while (ready.load() < kCpus) {
				}
				el3_boot_complete(cpus[n], EL3_E_RMM_BOOT_ERR_UNKNOWN, 0, nullptr, nullptr);
				::_exit(43);
			});
		for (std::thread& t : threads)
			t.join();
		::_exit(43);
	}
	int st = 0;
	::waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// glibc's exit() run by two threads at once crashes in its exit handlers: the shim lets one thread
// end the process. Each round is a new RMM on a new carveout (a failed boot disables the Realm world).
TEST(FailedBoot, EveryCpuFailingAtOnceEndsTheProcessWithStatusOne)
{
	TempDir dir;
	for (int round = 0; round < 12; ++round) {
		const std::string endpoint = "inproc:" + dir.file("c" + std::to_string(round) + ".img");
		EXPECT_EQ(all_cpus_fail_in_a_child(endpoint), 1) << "round " << round;
	}
}

// The same through the daemon: ending waits for the calls in flight on gRPC sessions and on the fast
// path, and must neither hang on them nor disturb el3d.
TEST(FailedBoot, EveryCpuFailingAtOnceThroughTheDaemonEndsTheProcessWithStatusOne)
{
	TempDir dir;
	for (int round = 0; round < 3; ++round) {
		Daemon d(dir, {}, "c" + std::to_string(round) + ".img");
		d.socket = dir.file("s" + std::to_string(round) + ".sock");
		ASSERT_TRUE(d.start()) << d.log();
		EXPECT_EQ(all_cpus_fail_in_a_child("unix:" + d.socket), 1) << "round " << round << "\n" << d.log();
		EXPECT_TRUE(d.running()) << d.log();
	}
}

}  // namespace
