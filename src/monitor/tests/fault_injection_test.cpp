// Fault rules at the monitor's dispatch entry: an injected failure changes nothing (GPT, regions, status), the
// observer sees it marked with its rule, a delay runs the real call afterwards, a kill throws SessionKilled, the
// built-in --inject-again rule is listed, and entry rules put Boot Manifest faults into a cold boot.
#include "el3d/manifest/manifest.hpp"
#include "monitor_fixture.hpp"

#include <chrono>
#include <thread>
#include <cstring>

namespace el3d::test {
namespace {

constexpr uint64_t G = 0x80000000;  // a DRAM granule on fvp

struct Recorder : SmcObserver {
	std::vector<SmcRecord> smcs;
	std::vector<Entry> entries;
	void on_smc(const SmcRecord& r) override { smcs.push_back(r); }
	void on_entry(uint32_t, const Entry& e) override { entries.push_back(e); }
};

class FaultInjection : public MonitorTest {
protected:
	void add(const std::string& rule) { monitor->faults().add(faults::rule_from_json(nlohmann::json::parse(rule), "t")); }
	// What an injected failure must leave alone.
	struct Snapshot {
		std::array<uint64_t, 16> gpt;
		std::vector<GptRange> ranges;
		size_t regions;
		uint64_t top;
		std::vector<CpuStatus> cpus;
	};
	Snapshot snap() const
	{
		const MonitorStatus s = monitor->status();
		return {s.gpt_granules, s.gpt_ranges, s.regions.size(), s.top, s.cpus};
	}
	static void same(const Snapshot& a, const Snapshot& b)
	{
		EXPECT_EQ(a.gpt, b.gpt);
		EXPECT_EQ(a.ranges.size(), b.ranges.size());
		EXPECT_EQ(a.regions, b.regions);
		EXPECT_EQ(a.top, b.top);
		ASSERT_EQ(a.cpus.size(), b.cpus.size());
		for (size_t i = 0; i < a.cpus.size(); ++i) {
			EXPECT_EQ(a.cpus[i].state, b.cpus[i].state);
			EXPECT_EQ(a.cpus[i].completions, b.cpus[i].completions);
		}
	}
};

TEST_F(FaultInjection, ThirdDelegateFailsAndChangesNothing)
{
	Recorder rec;
	monitor->set_observer(&rec);
	add(R"({"id": "d3", "fid": "RMM_GTSI_DELEGATE", "nth": 3, "result": "E_RMM_BAD_PAS"})");
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G})), EL3_E_RMM_OK);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G + 0x1000})), EL3_E_RMM_OK);
	const Snapshot before = snap();
	const SmcResult r = smc(EL3_FID_RMM_GTSI_DELEGATE, {G + 0x2000, 7});
	EXPECT_EQ(x0(r), EL3_E_RMM_BAD_PAS);
	EXPECT_EQ(r[1], G + 0x2000);  // undefined outputs keep the caller's registers
	EXPECT_EQ(r[2], 7u);
	same(before, snap());
	// The granule is still Non-secure: undelegating it is refused, delegating it (4th call) works.
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_UNDELEGATE, {G + 0x2000})), EL3_E_RMM_BAD_PAS);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G + 0x2000})), EL3_E_RMM_OK);
	ASSERT_EQ(rec.smcs.size(), 5u);
	EXPECT_TRUE(rec.smcs[1].injected_by.empty());
	EXPECT_EQ(rec.smcs[2].injected_by, "d3");
	EXPECT_EQ(rec.smcs[2].note, "injected by fault rule d3");
	EXPECT_TRUE(rec.smcs[2].effects.empty());
	EXPECT_EQ(monitor->faults().list().at(0).fired, 1u);
	monitor->set_observer(nullptr);
}

TEST_F(FaultInjection, InjectedAllocationFailureConsumesNothing)
{
	add(R"({"fid": "RMM_ALLOCATE_MEMORY", "when": "x1 >= 0x2000", "always": true, "result": "E_RMM_NOMEM"})");
	const Snapshot before = snap();
	EXPECT_EQ(x0(alloc(0x2000, 12, 1)), EL3_E_RMM_NOMEM);
	same(before, snap());
	EXPECT_EQ(x0(alloc(0x1000, 12, 1)), EL3_ALLOC_FRESH);  // the condition does not hold: served
	EXPECT_EQ(snap().regions, before.regions + 1);
}

TEST_F(FaultInjection, BootCompleteAnsweredSmcUnkLeavesTheCpuBooting)
{
	monitor->enter(0, EntryKind::Cold);
	add(R"({"fid": "RMM_BOOT_COMPLETE", "nth": 1, "result": "SMC_UNK"})");
	EXPECT_EQ(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0x55})[0], EL3_SMC_UNK);
	EXPECT_EQ(monitor->cpu_state(0), CpuBootState::Booting);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0x55})), EL3_E_RMM_OK);
	EXPECT_EQ(monitor->cpu_state(0), CpuBootState::Booted);
}

TEST_F(FaultInjection, KillThrowsAndChangesNothing)
{
	Recorder rec;
	monitor->set_observer(&rec);
	add(R"({"id": "k", "fid": "RMM_GTSI_DELEGATE", "cpu": 1, "nth": 1, "kill": true})");
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G}, 0)), EL3_E_RMM_OK);  // cpu 0: not picked
	const Snapshot before = snap();
	SmcResult out{};
	try {
		monitor->call(1, EL3_FID_RMM_GTSI_DELEGATE, {G + 0x1000}, out);
		FAIL() << "no SessionKilled";
	} catch (const SessionKilled& e) {
		EXPECT_EQ(e.cpu, 1u);
		EXPECT_EQ(e.rule, "k");
		EXPECT_NE(std::string(e.what()).find("fault rule k"), std::string::npos);
	}
	same(before, snap());
	ASSERT_EQ(rec.smcs.size(), 2u);
	EXPECT_EQ(rec.smcs[1].note, "session killed by fault rule k");
	monitor->set_observer(nullptr);
}

TEST_F(FaultInjection, DelayThenTheRealCall)
{
	add(R"({"fid": "RMM_GTSI_DELEGATE", "nth": 1, "delay_ms": 150})");
	const auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G})), EL3_E_RMM_OK);
	EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G})), EL3_E_RMM_BAD_PAS);  // the first call did delegate it
}

TEST_F(FaultInjection, DelayHoldsOnlyItsCpuNotTheMonitor)
{
	add(R"({"cpu": 1, "fid": "RMM_EL3_FEATURES", "nth": 1, "delay_ms": 500, "result": "E_RMM_INVAL"})");
	std::thread slow([&] {
		SmcResult out{};
		monitor->call(1, EL3_FID_RMM_EL3_FEATURES, {0}, out);
		EXPECT_EQ(static_cast<int64_t>(out[0]), EL3_E_RMM_INVAL);
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	const auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {G}, 0)), EL3_E_RMM_OK);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
	slow.join();
}

TEST_F(FaultInjection, InjectAgainIsABuiltInRule)
{
	MonitorOptions o;
	o.inject_again = 2;
	open(o);
	const auto l = monitor->faults().list();
	ASSERT_EQ(l.size(), 1u);
	EXPECT_EQ(l[0].rule.id, "inject-again");
	const uint64_t S = geom().shared_base();
	std::vector<uint8_t> challenge(32, 3);
	ASSERT_TRUE(monitor->write_memory(S, challenge.data(), challenge.size()));
	// A call its checks refuse is not counted: BAD_ADDR, not AGAIN.
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {G, 0x1000, 32})), EL3_E_RMM_BAD_ADDR);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 32})), EL3_E_RMM_AGAIN);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 32})), EL3_E_RMM_AGAIN);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 32})), EL3_E_RMM_OK);
	EXPECT_EQ(monitor->faults().list()[0].fired, 2u);
	// Cleared like any rule: the next call is served at once.
	EXPECT_EQ(monitor->faults().clear("inject-again"), 1u);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 0})), EL3_E_RMM_OK);
}

TEST_F(FaultInjection, EntryRuleBreaksTheManifestOfTheChosenColdBoot)
{
	Recorder rec;
	monitor->set_observer(&rec);
	add(R"({"id": "m2", "on": "entry", "cpu": 0, "nth": 2, "manifest": ["dram-unsorted"]})");
	const uint64_t S = geom().shared_base();
	auto valid = [&] {
		std::vector<uint8_t> page;
		EXPECT_TRUE(monitor->read_memory(S, manifest::kPageSize, page));
		return !manifest::validate_manifest(page, S, 48).has("dram-unsorted");
	};
	monitor->enter(0, EntryKind::Cold);
	EXPECT_TRUE(valid());
	monitor->enter(0, EntryKind::Cold);
	EXPECT_FALSE(valid());
	monitor->enter(0, EntryKind::Cold);
	EXPECT_TRUE(valid());
	ASSERT_EQ(rec.entries.size(), 3u);
	EXPECT_EQ(rec.entries[1].injected_by, "m2");
	EXPECT_TRUE(rec.entries[2].injected_by.empty());
	monitor->set_observer(nullptr);
}

}  // namespace
}  // namespace el3d::test
