// The crash storm: the real daemon, client threads (one per CPU) allocating, writing memory,
// completing boots with tokens, delegating and undelegating granules, entering CPUs and resetting as
// fast as they can, and SIGKILL at random instants — some uniform, most aimed at one kind of
// operation in flight. After each kill the daemon is restarted on the same file and everything it
// acknowledged is checked against a model (crash_storm_check.cpp). Two daemons take turns: seed
// (tagged RMM_ALLOCATE_MEMORY) and tfa (RMM_RESERVE_MEMORY, FIRME_GM_GPI_SET, pre-marked granules).
//
// The storm runs at each durability level (el3d --durability process, then power), each for half the time.
//
//   EL3D_CRASH_STORM_SECONDS  how long the storm runs, both levels together (default 44; the test takes
//                             about a minute)
//   EL3D_CRASH_STORM_DURABILITY  process or power: run only that level, for the whole time
//   EL3D_CRASH_STORM_SEED     the seed to replay (printed at the start)
//   EL3D_CRASH_STORM_KEEP_GOING=1  count failing rounds instead of stopping at the first one (a
//                             failing rig starts again on a new file)
#include "crash_storm.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

using namespace el3d::test;
using namespace el3d::test::storm;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

uint64_t env_u64(const char* name, uint64_t dflt)
{
	const char* v = std::getenv(name);
	return v && *v ? std::strtoull(v, nullptr, 0) : dflt;
}

std::string lines(const std::vector<std::string>& failures)
{
	std::string all;
	for (std::size_t i = 0; i < failures.size() && i < 24; ++i)
		all += "\n  " + failures[i];
	if (failures.size() > 24)
		all += "\n  ... and " + std::to_string(failures.size() - 24) + " more";
	return all;
}

}  // namespace

class CrashStorm : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Durability, CrashStorm, ::testing::Values("process", "power"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(CrashStorm, SigkillDuringEveryKindOfOperationLosesNothingAcknowledged)
{
	const std::string durability = GetParam();
	const char* only = std::getenv("EL3D_CRASH_STORM_DURABILITY");
	if (only != nullptr && *only != '\0' && durability != only)
		GTEST_SKIP() << "EL3D_CRASH_STORM_DURABILITY=" << only;
	const bool alone = only != nullptr && *only != '\0';
	const uint64_t seconds = env_u64("EL3D_CRASH_STORM_SECONDS", 44) / (alone ? 1 : 2);
	const uint64_t seed = env_u64("EL3D_CRASH_STORM_SEED", std::random_device{}());
	const bool keep_going = env_u64("EL3D_CRASH_STORM_KEEP_GOING", 0) != 0;
	std::printf("crash storm (durability %s): EL3D_CRASH_STORM_SEED=%llu, %llu seconds\n", durability.c_str(),
	            static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seconds));
	std::fflush(stdout);
	constexpr unsigned kThreads = 3;
	TempDir dir;
	std::array<std::unique_ptr<Rig>, 2> rigs = {std::make_unique<Rig>(dir, "seed", kThreads, durability),
	                                            std::make_unique<Rig>(dir, "tfa", kThreads, durability)};
	std::mt19937_64 rng(seed);
	Stats total;
	const auto start = Clock::now();
	const auto deadline = start + std::chrono::seconds(seconds);
	int round = 0;
	for (; Clock::now() < deadline; ++round) {
		Rig& rig = *rigs[round % 2];
		const uint64_t round_seed = rng();
		ASSERT_TRUE(rig.daemon.start(30s)) << rig.profile << " round " << round << ": " << rig.daemon.log();
		std::vector<std::string> failures;
		Stats st;
		{
			auto stub = connect(rig.daemon.socket);
			check(rig, *stub, round, st, failures);
		}
		const bool reset_in_flight = st.resets_committed_at_kill + st.resets_undone_at_kill > 0;
		total.add(st);
		if (!failures.empty()) {
			++total.failed_rounds;
			total.failed_rounds_reset_in_flight += reset_in_flight;
			ADD_FAILURE() << "after the kill of round " << rig.kill_round << " (seed " << seed << "):" << lines(failures);
			if (!keep_going)
				break;
			// Start this rig again on a new file.
			rig.daemon.signal(SIGKILL);
			rig.daemon.wait();
			const std::string profile = rig.profile;
			rigs[round % 2].reset();
			::unlink(dir.file(profile + "-" + durability + ".img").c_str());
			::unlink(dir.file(profile + "-" + durability + ".img.ns").c_str());
			rigs[round % 2] = std::make_unique<Rig>(dir, profile, kThreads, durability);
			continue;
		}
		failures.clear();
		run_round(rig, round, round_seed, rng, total, failures);
		if (!failures.empty()) {
			ADD_FAILURE() << "during round " << round << " (seed " << seed << "):" << lines(failures);
			if (!keep_going)
				break;
		}
	}
	// Last: both daemons once more, checked, then stopped cleanly.
	for (auto& rig : rigs) {
		if (::testing::Test::HasFailure() && !keep_going)
			break;
		ASSERT_TRUE(rig->daemon.start(30s)) << rig->daemon.log();
		std::vector<std::string> failures;
		const uint64_t in_flight_resets = total.resets_committed_at_kill + total.resets_undone_at_kill;
		auto stub = connect(rig->daemon.socket);
		check(*rig, *stub, round, total, failures);
		if (!failures.empty()) {
			++total.failed_rounds;
			total.failed_rounds_reset_in_flight +=
			    total.resets_committed_at_kill + total.resets_undone_at_kill > in_flight_resets;
			ADD_FAILURE() << "final check, after the kill of round " << rig->kill_round << " (seed " << seed
			              << "):" << lines(failures);
		}
		// The daemon says which level it runs; at power, the check's own state changes took at most one
		// flush each.
		el3d::v1::State s;
		ASSERT_TRUE(stub->GetState(ctx().get(), {}, &s).ok());
		EXPECT_EQ(s.durability(), durability);
		if (durability == "power") {
			EXPECT_GT(s.flushes().state_changing_smcs(), 0u);
			EXPECT_LE(s.flushes().smc_flushes(), s.flushes().state_changing_smcs());
		} else {
			EXPECT_EQ(s.flushes().flushes(), 0u);
		}
		rig->daemon.signal(SIGTERM);
		EXPECT_EQ(rig->daemon.wait(), 0);
	}
	const double secs = std::chrono::duration<double>(Clock::now() - start).count();
	std::printf("crash storm (durability %s): seed=%llu seconds=%.1f %s\n", durability.c_str(),
	            static_cast<unsigned long long>(seed), secs, total.summary().c_str());
	if (!::testing::Test::HasFailure()) {
		EXPECT_GE(total.kills, 10u) << "the storm did not run long enough to mean anything";
	}
}
