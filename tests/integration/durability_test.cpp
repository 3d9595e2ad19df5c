// Durability levels (el3d --durability, docs/persistence.md): which level runs, how it is reported, and at
// power, at most one flush per state-changing SMC, shared by CPUs whose SMCs are in flight together.
#include "harness.hpp"

#include "el3d/smc.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace el3d::test;

namespace {

constexpr uint64_t kDram = 0x80000000;  // FVP DRAM bank 0: Non-secure, granule-mapped

// `rounds` delegations and undelegations of a granule of its own from each of `cpus` CPUs at once.
void delegate_storm(const std::string& socket, unsigned cpus, unsigned rounds)
{
	std::vector<std::thread> threads;
	for (unsigned cpu = 0; cpu < cpus; ++cpu)
		threads.emplace_back([&, cpu] {
			auto stub = connect(socket);
			const uint64_t pa = kDram + 0x100000 + cpu * 0x1000;
			for (unsigned i = 0; i < rounds; ++i) {
				EXPECT_EQ(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, pa, 0, cpu).x0(), 0u);
				EXPECT_EQ(smc(*stub, EL3_FID_RMM_GTSI_UNDELEGATE, pa, 0, cpu).x0(), 0u);
			}
		});
	for (auto& t : threads)
		t.join();
}

}  // namespace

TEST(Durability, ProcessIsTheDefaultAndFlushesNothing)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	delegate_storm(el3d.socket, 2, 50);
	auto stub = connect(el3d.socket);
	const auto s = get_state(*stub);
	EXPECT_EQ(s.durability(), "process");
	EXPECT_EQ(s.flushes().flushes(), 0u);
	EXPECT_EQ(s.flushes().state_changing_smcs(), 0u);
	const auto st = el3ctl(el3d.socket, {"status"});
	EXPECT_NE(st.out.find("durability process"), std::string::npos) << st.out;
}

TEST(Durability, PowerTakesAtMostOneFlushPerStateChangingSmc)
{
	TempDir d;
	Daemon el3d(d, {"--durability", "power"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	const auto before = get_state(*stub).flushes();
	constexpr unsigned kRounds = 100;
	delegate_storm(el3d.socket, 1, kRounds);
	const auto one = get_state(*stub).flushes();
	// One CPU: every delegation and undelegation (and the CPU's implicit entry, in the same SMC) is one flush.
	EXPECT_EQ(one.state_changing_smcs() - before.state_changing_smcs(), 2 * kRounds);
	EXPECT_EQ(one.smc_flushes() - before.smc_flushes(), 2 * kRounds);
	// Two CPUs: at most one each, fewer when a flush covers SMCs of both.
	delegate_storm(el3d.socket, 2, kRounds);
	const auto two = get_state(*stub);
	const auto smcs = two.flushes().state_changing_smcs() - one.state_changing_smcs();
	const auto flushes = two.flushes().smc_flushes() - one.smc_flushes();
	EXPECT_EQ(smcs, 2 * 2 * kRounds);
	EXPECT_LE(flushes, smcs);
	EXPECT_EQ(smcs - flushes, two.flushes().grouped() - one.grouped()) << "every SMC without a flush of its own was grouped";
	std::printf("two CPUs at power: %llu flushes for %llu SMCs\n", static_cast<unsigned long long>(flushes),
	            static_cast<unsigned long long>(smcs));
	EXPECT_EQ(two.durability(), "power");
	const auto st = el3ctl(el3d.socket, {"status"});
	EXPECT_NE(st.out.find("durability power: "), std::string::npos) << st.out;
}

TEST(Durability, TheEnvironmentChoosesTheLevelAndTheOptionWins)
{
	TempDir d;
	Daemon el3d(d);
	el3d.env = {"EL3D_DURABILITY=power"};
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	EXPECT_EQ(get_state(*stub).durability(), "power");
	el3d.signal(SIGTERM);
	ASSERT_EQ(el3d.wait(), 0);
	el3d.args = {"--durability", "process"};
	ASSERT_TRUE(el3d.start()) << el3d.log();
	stub = connect(el3d.socket);
	EXPECT_EQ(get_state(*stub).durability(), "process");
}

TEST(Durability, AnUnknownLevelIsAUsageError)
{
	TempDir d;
	Daemon el3d(d, {"--durability", "disk"});
	EXPECT_EQ(el3d.run_to_exit(), 1);
}
