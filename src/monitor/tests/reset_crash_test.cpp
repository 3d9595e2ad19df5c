// A reset is one atomic step as seen after a crash: a process that dies at any step of Monitor::reset()
// (here: a child that ends itself with _exit at that step, which leaves the page cache as kill -9
// does) leaves a file whose next open shows either the whole old state or the whole reset one, never
// the new epoch with the old delegations or the old regions' bytes.
#include "el3d/gpt/gpt.hpp"
#include "monitor_fixture.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

using namespace el3d;
using el3d::test::MonitorTest;

namespace {

constexpr uint64_t D = 0x80000000;  // FVP DRAM bank 0
constexpr uint64_t kPremarked = D + 0x100000;

const char* g_crash_at = nullptr;

void crash_here(const char* step)
{
	if (g_crash_at != nullptr && std::strcmp(step, g_crash_at) == 0)
		::_exit(0);
}

MonitorOptions with_premarks()
{
	MonitorOptions o;
	o.boot_config = manifest::default_boot_config("fvp");
	o.boot_config->gpt = {{kPremarked, 0x2000, "realm"}};
	return o;
}

}  // namespace

class ResetCrash : public MonitorTest, public ::testing::WithParamInterface<const char*> {
protected:
	int64_t delegate(uint64_t pa) { return x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {pa})); }
	int64_t undelegate(uint64_t pa) { return x0(smc(EL3_FID_RMM_GTSI_UNDELEGATE, {pa})); }

	// Runs Monitor::reset() on the file in a child process that dies at `step`; returns its exit status.
	int reset_in_child_dying_at(const char* step)
	{
		monitor.reset();  // the child must be the file's only opener
		const pid_t pid = ::fork();
		if (pid == 0) {
			CarveoutOpenRequest r;
			r.path = dir.file("c.img");
			auto c = Carveout::open(r);
			c->set_crash_hook_for_testing(crash_here);
			g_crash_at = step;
			Monitor m(std::move(c), with_premarks());
			m.reset();
			::_exit(3);  // the step was never reached
		}
		int status = 0;
		::waitpid(pid, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
};

TEST_P(ResetCrash, TheNextOpenFinishesTheReset)
{
	open(with_premarks(), {}, /*reset=*/true);
	// State to be forgotten: a delegation, an undelegated pre-mark, a region with content, a boot.
	ASSERT_EQ(delegate(D), EL3_E_RMM_OK);
	ASSERT_EQ(undelegate(kPremarked), EL3_E_RMM_OK);
	const SmcResult a = alloc(0x2000, 12, 1);
	ASSERT_GE(x0(a), 0);  // 1: a fresh region
	const uint64_t region = a[1];
	const std::vector<uint8_t> pattern(0x2000, 0x5a);
	ASSERT_TRUE(monitor->write_memory(region, pattern.data(), pattern.size()));
	monitor->enter(0, EntryKind::Cold);
	const uint64_t epoch = monitor->status().epoch;

	ASSERT_EQ(reset_in_child_dying_at(GetParam()), 0) << "the child did not reach " << GetParam();

	open(with_premarks());
	const MonitorStatus s = monitor->status();
	EXPECT_EQ(s.epoch, epoch + 1);
	EXPECT_TRUE(s.regions.empty());
	EXPECT_TRUE(s.cpus.empty());
	EXPECT_EQ(s.top, geom().rmm_limit);
	std::vector<uint8_t> bytes;
	ASSERT_TRUE(monitor->read_memory(region, pattern.size(), bytes));
	EXPECT_EQ(bytes, std::vector<uint8_t>(pattern.size(), 0)) << "the old region's bytes survived the reset";
	EXPECT_EQ(delegate(D), EL3_E_RMM_OK) << "the old delegation survived the reset";
	EXPECT_EQ(delegate(kPremarked), EL3_E_RMM_BAD_PAS) << "the pre-mark was not applied again";
	EXPECT_EQ(delegate(kPremarked + 0x1000), EL3_E_RMM_BAD_PAS);
	// Finished for good: the next open does not clear again what was done since.
	const SmcResult b = alloc(0x1000, 12, 2);
	ASSERT_GE(x0(b), 0);
	ASSERT_TRUE(monitor->write_memory(b[1], pattern.data(), 0x1000));
	open(with_premarks());
	EXPECT_EQ(monitor->status().regions.size(), 1u);
	ASSERT_TRUE(monitor->read_memory(b[1], 0x1000, bytes));
	EXPECT_EQ(bytes, std::vector<uint8_t>(0x1000, 0x5a));
	EXPECT_EQ(delegate(D), EL3_E_RMM_BAD_PAS);  // delegated after the reset: kept
}

INSTANTIATE_TEST_SUITE_P(EveryStep, ResetCrash,
                         ::testing::Values("reset:committed", "reset:image-cleared", "reset:gpt-cleared",
                                           "reset:premarks-applied"),
                         [](const auto& p) {
	                         std::string n = p.param;
	                         for (char& ch : n)
		                         if (ch == ':' || ch == '-')
			                         ch = '_';
	                         return n;
                         });

namespace {
Carveout* g_failing = nullptr;
void fail_the_last_commit(const char* step)
{
	if (std::strcmp(step, "reset:premarks-applied") == 0)
		g_failing->fail_metadata_syncs_for_testing(2);  // the commit's flush, and the flush of its voiding
}
}  // namespace

TEST_F(MonitorTest, AResetWhoseLastCommitFailedIsFinishedBeforeTheNextChange)
{
	monitor.reset();
	CarveoutOpenRequest r;
	r.path = dir.file("c.img");
	auto c = Carveout::open(r);
	g_failing = c.get();
	c->set_crash_hook_for_testing(fail_the_last_commit);
	monitor = std::make_unique<Monitor>(std::move(c), MonitorOptions{});
	ASSERT_GE(x0(alloc(0x1000, 12, 1)), 0);
	EXPECT_THROW(monitor->reset(), std::exception);  // the reset's last step could not be made durable
	EXPECT_TRUE(monitor->carveout().reset_pending());
	// The next SMC finishes the reset first, so that the next open does not clear what it does.
	const SmcResult b = alloc(0x1000, 12, 2);
	ASSERT_GE(x0(b), 0);
	EXPECT_FALSE(monitor->carveout().reset_pending());
	const std::vector<uint8_t> pattern(0x1000, 0x77);
	ASSERT_TRUE(monitor->write_memory(b[1], pattern.data(), pattern.size()));
	open();
	EXPECT_EQ(monitor->status().regions.size(), 1u);
	std::vector<uint8_t> bytes;
	ASSERT_TRUE(monitor->read_memory(b[1], 0x1000, bytes));
	EXPECT_EQ(bytes, pattern);
}
