// el3_boot_complete() with a failure ends the process: also when every CPU of the RMM fails its
// boot at the same instant, from its own thread (tests/client/failing_rmm.c).
#include "process.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace el3d::test;

namespace {

constexpr const char* kCpus = "8";  // the fvp platform's CPU count

// glibc's exit() run by two threads at once crashes in its exit handlers, and so does exit() beside
// another CPU's SMC in process (spdlog's destructors run under its log calls): el3client lets one
// thread end the process once no call is in flight. Each round is a new RMM on a new carveout (a
// failed boot disables the Realm world).
TEST(FailedBoot, EveryCpuFailingAtOnceEndsTheProcessWithStatusOne)
{
	TempDir dir;
	for (int round = 0; round < 12; ++round) {
		const ProcResult r =
		    run({EL3D_FAILING_RMM, "inproc:" + dir.file("c" + std::to_string(round) + ".img"), kCpus});
		EXPECT_EQ(r.rc, 1) << "round " << round << "\n" << r.err;
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
		const ProcResult r = run({EL3D_FAILING_RMM, "unix:" + d.socket, kCpus});
		EXPECT_EQ(r.rc, 1) << "round " << round << "\n" << r.err << "\n" << d.log();
		EXPECT_TRUE(d.running()) << d.log();
	}
}

}  // namespace
