#include "el3d/worldswitch/ports.hpp"

#include "el3d/smc.h"
#include "tempdir.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

using namespace el3d;
using namespace el3d::ws;
using namespace std::chrono_literals;

namespace {

class Ports : public ::testing::Test {
protected:
	void open(Abi abi)
	{
		world.reset();
		monitor.reset();
		CarveoutOpenRequest r;
		r.path = dir.file(std::string("c-") + abi_name(abi) + ".img");
		r.durability = Durability::Process;
		r.overrides.payload_default = payload_default(abi);
		MonitorOptions o;
		o.abi = abi;
		monitor = std::make_unique<Monitor>(Carveout::open(r), o);
		world = std::make_unique<WorldSwitch>(monitor->geometry().core_count, 4, 5ms);
	}
	// An RMI from the Non-secure world on its own thread.
	std::future<NsOutcome> rmi(uint32_t cpu, uint64_t fid, SmcArgs x, bool fail_fast = false)
	{
		return std::async(std::launch::async, [=, this] {
			return ns_rmi(*monitor, *world, cpu, fid, x, fail_fast, [this] { return give_up.load(); });
		});
	}
	static NsOutcome get(std::future<NsOutcome>& f)
	{
		EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << "the RMI did not finish";
		return f.get();
	}
	// An SMC of the RMM through its port on its own thread (it may wait for an RMI).
	std::future<std::pair<bool, SmcResult>> rmm_smc(RealmPort& p, uint64_t fid, SmcArgs x)
	{
		return std::async(std::launch::async, [&p, fid, x, this] {
			SmcResult out{};
			bool ok = p.smc(fid, x, out, [this] { return rmm_gone.load(); });
			return std::make_pair(ok, out);
		});
	}
	static std::pair<bool, SmcResult> get(std::future<std::pair<bool, SmcResult>>& f)
	{
		EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << "the RMM's SMC did not return";
		return f.get();
	}

	el3d::test::TempDir dir;
	std::unique_ptr<Monitor> monitor;
	std::unique_ptr<WorldSwitch> world;
	std::atomic<bool> give_up{false}, rmm_gone{false};
};

constexpr uint64_t kVersion = EL3_FID_RMI_VERSION;
constexpr uint64_t kDelegate = 0xC4000151;

}  // namespace

TEST_F(Ports, BootCompleteAndReqCompleteReturnWithTheNextRmi)
{
	open(Abi::Tfa);
	RealmPort port(*monitor, *world, 0);
	auto boot = rmm_smc(port, EL3_FID_RMM_BOOT_COMPLETE, {0, 0x1234});
	auto version = rmi(0, kVersion, {0x20000, 0, 0, 4, 5, 6, 7});
	auto [ok, in] = get(boot);
	ASSERT_TRUE(ok);
	EXPECT_EQ(in[0], kVersion);     // RMM_BOOT_COMPLETE "returned" with the RMI
	EXPECT_EQ(in[1], 0x20000u);
	EXPECT_EQ(in[7], 7u);
	EXPECT_EQ(monitor->cpu_state(0), CpuBootState::Booted);
	EXPECT_EQ(world->view(0).state, RmiState::Serving);

	// The RMM's result: REQ_COMPLETE x1..x8 are the caller's x0..x7 (interface 2.0: all eight).
	auto done = rmm_smc(port, EL3_FID_RMM_RMI_REQ_COMPLETE, {0, 0x20000, 0x20001, 13, 14, 15, 16, 17});
	NsOutcome o = get(version);
	EXPECT_EQ(o.error, RmiError::None);
	EXPECT_TRUE(o.forwarded);
	EXPECT_EQ(o.regs, (RmiRegs{0, 0x20000, 0x20001, 13, 14, 15, 16, 17}));
	// ...and REQ_COMPLETE itself waits for the next one.
	EXPECT_EQ(done.wait_for(50ms), std::future_status::timeout);
	auto second = rmi(0, kDelegate, {0x88000000});
	auto [ok2, in2] = get(done);
	ASSERT_TRUE(ok2);
	EXPECT_EQ(in2[0], kDelegate);
	EXPECT_EQ(in2[1], 0x88000000u);
	// The caller's deadline passes while the RMM holds the delegation: it gives up; the RMM's result
	// is dropped.
	give_up = true;
	EXPECT_EQ(get(second).error, RmiError::GaveUp);
	auto third = rmm_smc(port, EL3_FID_RMM_RMI_REQ_COMPLETE, {0});
	rmm_gone = true;  // ...and then the RMM's session ends while it waits
	EXPECT_FALSE(get(third).first);
	EXPECT_EQ(world->view(0).dropped, 1u);
	EXPECT_EQ(world->view(0).served, 2u);
}

TEST_F(Ports, BeforeInterface2OnlyX0ToX4AreReturned)
{
	open(Abi::TfaV1Compat);
	RealmPort port(*monitor, *world, 0);
	auto boot = rmm_smc(port, EL3_FID_RMM_BOOT_COMPLETE, {0});
	auto version = rmi(0, kVersion, {1, 2, 3, 4, 5, 6, 7});
	ASSERT_TRUE(get(boot).first);
	auto done = rmm_smc(port, EL3_FID_RMM_RMI_REQ_COMPLETE, {10, 11, 12, 13, 14, 15, 16, 17});
	NsOutcome o = get(version);
	EXPECT_EQ(o.regs, (RmiRegs{10, 11, 12, 13, 14, 5, 6, 7}));  // x5..x7: the caller's own
	rmm_gone = true;
	EXPECT_FALSE(get(done).first);
}

TEST_F(Ports, El3AnswersNonRmiFidsItselfWithSmcUnk)
{
	open(Abi::Seed);
	for (uint64_t fid : {uint64_t{EL3_FID_RMM_GTSI_DELEGATE}, uint64_t{0xC40001D0}, uint64_t{0x84000000},
	                     uint64_t{EL3_FID_RMM_BOOT_COMPLETE}}) {
		auto f = rmi(0, fid, {1, 2, 3, 4, 5, 6, 7});
		NsOutcome o = get(f);
		EXPECT_EQ(o.error, RmiError::None) << std::hex << fid;
		EXPECT_FALSE(o.forwarded) << std::hex << fid;
		EXPECT_EQ(o.regs, (RmiRegs{EL3_SMC_UNK, 1, 2, 3, 4, 5, 6, 7})) << std::hex << fid;
	}
	// 0xC40001D0 is an RMI from interface 2.0: the tfa profile forwards it (here: nobody serves).
	open(Abi::Tfa);
	auto f = rmi(0, 0xC40001D0, {}, true);
	EXPECT_EQ(get(f).error, RmiError::NoRmm);
	// The upper half of x0 is not part of the FID.
	auto g = rmi(0, 0xFFFFFFFF00000000ull | kVersion, {}, true);
	EXPECT_EQ(get(g).error, RmiError::NoRmm);
}

TEST_F(Ports, ReqCompleteWithNoRmiHeldIsSmcUnkAndDoesNotWait)
{
	open(Abi::Tfa);
	RealmPort port(*monitor, *world, 1);
	auto f = rmm_smc(port, EL3_FID_RMM_RMI_REQ_COMPLETE, {0, 1});
	auto [ok, out] = get(f);
	EXPECT_TRUE(ok);
	EXPECT_EQ(out[0], EL3_SMC_UNK);
	EXPECT_EQ(out[1], 0u);
	EXPECT_EQ(out[2], 1u);
}

TEST_F(Ports, AFailedBootReturnsAtOnceAndDisablesRmis)
{
	open(Abi::Tfa);
	RealmPort port(*monitor, *world, 0);
	auto f = rmm_smc(port, EL3_FID_RMM_BOOT_COMPLETE, {static_cast<uint64_t>(EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR)});
	auto [ok, out] = get(f);
	EXPECT_TRUE(ok);
	EXPECT_EQ(out[0], static_cast<uint64_t>(EL3_E_RMM_OK));
	EXPECT_EQ(world->view(0).state, RmiState::Absent);
	auto r = rmi(0, kVersion, {});
	NsOutcome o = get(r);
	EXPECT_FALSE(o.forwarded);
	EXPECT_EQ(o.regs[0], EL3_SMC_UNK);
}

TEST_F(Ports, TheRmmLeavingMidRmiFailsItsCaller)
{
	open(Abi::Tfa);
	auto port = std::make_unique<RealmPort>(*monitor, *world, 2);
	auto boot = rmm_smc(*port, EL3_FID_RMM_BOOT_COMPLETE, {0});
	auto call = rmi(2, kDelegate, {0x88000000});
	ASSERT_TRUE(get(boot).first);
	port.reset();  // the session ended (the RMM process died) while it held the RMI
	NsOutcome o = get(call);
	EXPECT_EQ(o.error, RmiError::RmmGone);
	EXPECT_FALSE(o.forwarded);
	// A new RMM on the CPU serves the next one.
	RealmPort again(*monitor, *world, 2);
	EXPECT_EQ(monitor->enter(2, EntryKind::Auto).kind, EntryKind::Cold);
	auto boot2 = rmm_smc(again, EL3_FID_RMM_BOOT_COMPLETE, {0});
	auto call2 = rmi(2, kVersion, {});
	ASSERT_TRUE(get(boot2).first);
	auto done = rmm_smc(again, EL3_FID_RMM_RMI_REQ_COMPLETE, {0, 0x20000, 0x20000});
	EXPECT_EQ(get(call2).regs[1], 0x20000u);
	rmm_gone = true;
	EXPECT_FALSE(get(done).first);
}
