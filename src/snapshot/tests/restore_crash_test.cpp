// Restoring a snapshot into a carveout in use (Monitor::restore), on real files: the monitor's state
// afterwards is the snapshot's (regions and their bytes, GPT, boot states, activation, epoch); a process
// killed at each step of a restore leaves a file whose next open shows the old state or the
// snapshot's, never a mix, byte for byte; a restore is refused while a session holds a CPU (unless
// forced) and when the snapshot is laid out differently, and then changes nothing.
#include "el3d/snapshot/store.hpp"
#include "monitor_fixture.hpp"
#include "sparse_file.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

using namespace el3d;
using el3d::test::MonitorTest;

namespace {

constexpr uint64_t D = 0x80000000;  // FVP DRAM bank 0

const char* g_crash_at = nullptr;
void crash_here(const char* step)
{
	if (g_crash_at != nullptr && std::strcmp(step, g_crash_at) == 0)
		::_exit(0);
}

// What a restore must bring back, in one comparable string: every region and its bytes, the GPT's
// counts, each CPU's boot state and token, the activation and the epoch.
std::string state_of(const Monitor& m)
{
	const MonitorStatus s = m.status();
	std::string out = "epoch=" + std::to_string(s.epoch) + " activation=" + std::to_string(s.activation) +
	                  " top=" + std::to_string(s.top) + "\n";
	for (const auto& r : s.regions) {
		std::vector<uint8_t> bytes;
		EXPECT_TRUE(m.read_memory(r.addr, r.size, bytes));
		uint64_t sum = 0;
		for (uint8_t b : bytes)
			sum = sum * 131 + b;
		out += "region " + std::to_string(r.addr) + "+" + std::to_string(r.size) + " id=" + std::to_string(r.id) +
		       " sum=" + std::to_string(sum) + "\n";
	}
	for (std::size_t i = 0; i < s.gpt_granules.size(); ++i)
		out += "gpi" + std::to_string(i) + "=" + std::to_string(s.gpt_granules[i]) + " ";
	for (const auto& c : s.cpus)
		out += "\ncpu" + std::to_string(c.cpu) + " state=" + std::to_string(static_cast<int>(c.state)) +
		       " token=" + std::to_string(c.token) + " completions=" + std::to_string(c.completions);
	return out;
}

}  // namespace

class SnapshotRestore : public MonitorTest {
protected:
	void SetUp() override
	{
		open();
		snaps = std::make_unique<snapshot::Store>(snapshot::Store::default_dir(dir.file("c.img")));
		// State A: a region with content, a delegated granule, a completed boot.
		monitor->enter(0, EntryKind::Cold);
		const SmcResult a = alloc(0x3000, 12, 1);
		ASSERT_GE(x0(a), 0);
		const std::vector<uint8_t> pattern(0x3000, 0xa5);
		ASSERT_TRUE(monitor->write_memory(a[1], pattern.data(), pattern.size()));
		ASSERT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {D})), EL3_E_RMM_OK);
		ASSERT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0x1234})), EL3_E_RMM_OK);
		monitor->quiesce([&] { snaps->save("a", dir.file("c.img"), {}, false); });
		state_a = state_of(*monitor);
		digest_a = el3d::test::sparse_digest(snaps->path_of("a"));
		// State B: everything different (another activation, a second region, the granule back, a reset
		// in between for a new epoch).
		monitor->reset();
		monitor->enter(0, EntryKind::Cold);
		ASSERT_GE(x0(alloc(0x5000, 12, 2)), 0);
		ASSERT_GE(x0(alloc(0x1000, 12, 3)), 0);
		ASSERT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {D + 0x10000})), EL3_E_RMM_OK);
		state_b = state_of(*monitor);
		ASSERT_NE(state_a, state_b);
	}
	std::unique_ptr<snapshot::Store> snaps;
	std::string state_a, state_b, digest_a;
};

TEST_F(SnapshotRestore, RestoreInPlaceReloadsEverything)
{
	monitor->restore(snaps->path_of("a"), false);
	EXPECT_EQ(state_of(*monitor), state_a);
	// The SMCs see the restored state: the granule delegated in A is Realm again, B's is not.
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {D})), EL3_E_RMM_BAD_PAS);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_UNDELEGATE, {D + 0x10000})), EL3_E_RMM_BAD_PAS);
	// Region 1 comes back at its address; allocation continues below it.
	const SmcResult again = alloc(0x3000, 12, 1);
	EXPECT_EQ(x0(again), 0);
	// And a restart sees the same.
	open();
	EXPECT_EQ(state_of(*monitor), state_a);
	// No intent left behind.
	EXPECT_NE(::access(Carveout::restore_intent_path(dir.file("c.img")).c_str(), F_OK), 0);
}

TEST_F(SnapshotRestore, RefusedWhileASessionHoldsACpuUnlessForced)
{
	monitor->attach(1);
	EXPECT_THROW(monitor->restore(snaps->path_of("a"), false), RestoreRefused);
	EXPECT_EQ(state_of(*monitor), state_b);
	monitor->restore(snaps->path_of("a"), true);
	EXPECT_EQ(state_of(*monitor), state_a);
	EXPECT_TRUE(monitor->status().cpus.size() >= 1);
	// The session is still attached: a second claim of its CPU conflicts.
	EXPECT_THROW(monitor->attach(1), SessionConflict);
	monitor->detach(1);
}

TEST_F(SnapshotRestore, OtherGeometryRefusedAndNothingChanges)
{
	test::TempDir other;
	{
		CarveoutOpenRequest r;
		r.path = other.file("q.img");
		r.platform = "qemu";
		r.durability = Durability::Process;
		Carveout::open(r);
	}
	const std::string before = el3d::test::sparse_digest(dir.file("c.img"));
	try {
		monitor->restore(other.file("q.img"), true);
		FAIL() << "restored a qemu carveout over an fvp one";
	} catch (const CarveoutError& e) {
		EXPECT_EQ(e.refusal(), CarveoutRefusal::GeometryMismatch);
		EXPECT_NE(std::string(e.what()).find("platform"), std::string::npos) << e.what();
	}
	EXPECT_EQ(state_of(*monitor), state_b);
	EXPECT_EQ(el3d::test::sparse_digest(dir.file("c.img")), before);
	// Not a carveout at all: refused too.
	test::write_file(other.file("junk"), std::string(8192, 'x'));
	EXPECT_THROW(monitor->restore(other.file("junk"), true), CarveoutError);
	EXPECT_EQ(state_of(*monitor), state_b);
}

// A child restores and dies (_exit: the page cache stays, as after kill -9) at each step after the
// commit point; the next open finishes the restore: state A, the file byte for byte the snapshot's
// (the header excepted: the file keeps its own id, which here is the same file's).
class RestoreCrash : public SnapshotRestore, public ::testing::WithParamInterface<const char*> {};

TEST_P(RestoreCrash, TheNextOpenShowsTheSnapshot)
{
	monitor.reset();  // the child must be the file's only opener
	const pid_t pid = ::fork();
	if (pid == 0) {
		CarveoutOpenRequest r;
		r.path = dir.file("c.img");
		r.durability = Durability::Process;
		auto c = Carveout::open(r);
		c->set_crash_hook_for_testing(crash_here);
		g_crash_at = GetParam();
		Monitor m(std::move(c), {});
		m.restore(snaps->path_of("a"), false);
		::_exit(3);
	}
	int status = 0;
	::waitpid(pid, &status, 0);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child did not reach " << GetParam();
	{
		CarveoutOpenRequest r;
		r.path = dir.file("c.img");
		auto c = Carveout::open(r);  // finishes the restore, writes nothing else
	}
	EXPECT_EQ(el3d::test::sparse_digest(dir.file("c.img")), digest_a);
	open();
	EXPECT_EQ(state_of(*monitor), state_a);
	EXPECT_NE(::access(Carveout::restore_intent_path(dir.file("c.img")).c_str(), F_OK), 0);
}

INSTANTIATE_TEST_SUITE_P(Steps, RestoreCrash, ::testing::Values("restore:intent", "restore:copied", "restore:done"),
                         [](const auto& p) {
	                         std::string n = p.param;
	                         for (char& ch : n)
		                         if (ch == ':')
			                         ch = '_';
	                         return n;
                         });

// SIGKILL at random instants of restores that run one after another, alternating between two
// snapshots: every open afterwards shows one of the two, byte for byte.
TEST_F(SnapshotRestore, SigkillAtRandomInstantsLeavesOneSnapshotOrTheOther)
{
	monitor->quiesce([&] { snaps->save("b", dir.file("c.img"), {}, false); });
	const std::string digest_b = el3d::test::sparse_digest(snaps->path_of("b"));
	monitor.reset();
	unsigned seen_a = 0, seen_b = 0;
	for (int round = 0; round < 20; ++round) {
		const pid_t pid = ::fork();
		if (pid == 0) {
			CarveoutOpenRequest r;
			r.path = dir.file("c.img");
			r.durability = Durability::Process;
			Monitor m(Carveout::open(r), {});
			for (unsigned i = 0;; ++i)
				m.restore(snaps->path_of(i % 2 ? "a" : "b"), false);
		}
		::usleep(static_cast<useconds_t>(2000 + (round * 7919) % 40000));
		::kill(pid, SIGKILL);
		int status = 0;
		::waitpid(pid, &status, 0);
		{
			CarveoutOpenRequest r;
			r.path = dir.file("c.img");
			auto c = Carveout::open(r);
		}
		const std::string d = el3d::test::sparse_digest(dir.file("c.img"));
		ASSERT_TRUE(d == digest_a || d == digest_b) << "round " << round << ": a mix of the two snapshots";
		(d == digest_a ? seen_a : seen_b)++;
	}
	RecordProperty("seen_a", static_cast<int>(seen_a));
	RecordProperty("seen_b", static_cast<int>(seen_b));
	open();
	const std::string s = state_of(*monitor);
	EXPECT_TRUE(s == state_a || s == state_b) << s;
}
