// Replay: a recorded run re-issued against a fresh carveout is identical with a seed; a different
// starting carveout, an edited trace or a run without a seed diverge where they should.
#include "el3d/replay/replay.hpp"

#include "el3d/smc.h"
#include "el3d/snapshot/store.hpp"
#include "el3d/trace/recorder.hpp"
#include "tempdir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

using namespace el3d;

namespace {

constexpr uint64_t kShared = 0xFFBFF000;  // fvp's shared page
constexpr uint64_t kBadPas = static_cast<uint64_t>(-3);

struct Recording {
	explicit Recording(el3d::test::TempDir& dir, MonitorOptions o, const std::string& name = "c.img")
	{
		trace_path = dir.file("t.jsonl");
		tracer.open_file(trace_path);
		open(dir.file(name), std::move(o));
	}
	void open(const std::string& path, MonitorOptions o)
	{
		CarveoutOpenRequest r;
		r.path = path;
		r.durability = Durability::Process;
		r.overrides.payload_default = payload_default(o.abi);
		auto c = Carveout::open(r);
		const bool created = c->created();
		monitor = std::make_unique<Monitor>(std::move(c), std::move(o));
		trace::Event start;
		start.kind = trace::Kind::Start;
		start.config = replay::describe_setup(*monitor, created);
		tracer.record(start);
		monitor->set_observer(&rec);
	}
	SmcResult smc(uint32_t cpu, uint64_t fid, SmcArgs x)
	{
		SmcResult out{};
		EXPECT_TRUE(monitor->call(cpu, fid, x, out));
		return out;
	}
	void write(uint64_t pa, const std::vector<uint8_t>& b) { ASSERT_TRUE(monitor->write_memory(pa, b.data(), b.size())); }
	std::vector<trace::Event> events() { return trace::read_file(trace_path).events; }

	std::string trace_path;
	trace::Tracer tracer;
	trace::MonitorRecorder rec{tracer};
	std::unique_ptr<Monitor> monitor;
};

// A tfa-profile boot that uses memory both ways: key, platform token from a challenge, a token
// signed through the queue, delegation, a reservation, boot completion, a warm boot of CPU 1.
void tfa_boot(Recording& r)
{
	r.monitor->attach(0);
	r.monitor->enter(0, EntryKind::Cold);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_RESERVE_MEMORY, {0x4000, (uint64_t{12} << 56) | 1})[0], 0u);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000})[0], 0u);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000})[0], kBadPas);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_ATTEST_GET_REALM_KEY, {kShared, 0x1000, 0})[0], 0u);
	std::vector<uint8_t> challenge(48);
	for (unsigned i = 0; i < challenge.size(); ++i)
		challenge[i] = static_cast<uint8_t>(0x40 + i);
	r.write(kShared, challenge);
	uint64_t csize = 48;
	for (int i = 0; i < 50; ++i) {
		const SmcResult o = r.smc(0, EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {kShared, 0x100, csize});
		ASSERT_EQ(o[0], 0u);
		csize = 0;
		if (o[2] == 0)
			break;
	}
	std::vector<uint8_t> req(0x60, 0);
	req[0x08] = 0x88;  // rec_granule
	req[0x10] = 77;    // ticket
	req[0x18] = 1;     // SHA-384
	for (unsigned i = 0; i < 48; ++i)
		req[0x20 + i] = static_cast<uint8_t>(i * 3);
	r.write(kShared, req);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_EL3_TOKEN_SIGN, {1, kShared, 0x60})[0], 0u);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_EL3_TOKEN_SIGN, {2, kShared, 0x218})[0], 0u) << "a seeded signer answers at once";
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_BOOT_COMPLETE, {0, 0xfe000000})[0], 0u);
	r.monitor->attach(1);
	r.monitor->enter(1, EntryKind::Auto);
	EXPECT_EQ(r.smc(1, EL3_FID_RMM_BOOT_COMPLETE, {0, 0xfe000001})[0], 0u);
	r.monitor->detach(1);
	r.monitor->detach(0);
}

MonitorOptions tfa(std::optional<uint64_t> seed)
{
	MonitorOptions o;
	o.abi = Abi::Tfa;
	o.seed = seed;
	return o;
}

}  // namespace

TEST(Replay, ASeededRunReplaysIdentically)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(42));
	tfa_boot(r);
	r.monitor->reset();
	r.tracer.record(trace::Event{.kind = trace::Kind::Reset});
	// el3d restarted on the same file (what it kept is in the file), and a second boot.
	r.monitor->set_observer(nullptr);
	r.monitor.reset();
	r.open(dir.file("c.img"), tfa(42));
	tfa_boot(r);
	const auto ev = r.events();
	replay::Options o;
	o.work_dir = dir.path();
	const replay::Report rep = replay::run(ev, o);
	EXPECT_TRUE(rep.identical()) << rep.format();
	EXPECT_EQ(rep.restarts, 1u);
	EXPECT_EQ(rep.resets, 1u);
	EXPECT_EQ(rep.entries, 4u);
	EXPECT_GE(rep.smcs, 20u);
	EXPECT_NE(rep.format().find("identical"), std::string::npos) << rep.format();
	// What the calls read from memory is in the trace, so the replay fed them the same challenge.
	bool read = false;
	for (const auto& e : ev)
		read = read || (e.name == "RMM_ATTEST_GET_PLAT_TOKEN" && !e.mem_in.empty() && e.mem_in[0].bytes.size() == 48);
	EXPECT_TRUE(read);
	// The scratch carveout is gone.
	std::size_t left = 0;
	for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir.path()))
		++left;
	EXPECT_EQ(left, 2u) << "c.img and t.jsonl only";
}

TEST(Replay, AnEditedResultIsTheDivergenceNamedByRegister)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(1));
	tfa_boot(r);
	auto ev = r.events();
	std::size_t k = 0;
	while (ev[k].name != "RMM_GTSI_DELEGATE")
		++k;
	ev[k + 1].out[0] = 0;  // the second delegation "succeeded"
	const auto rep = replay::run(ev, {});
	ASSERT_FALSE(rep.identical());
	EXPECT_EQ(rep.divergence->index, k + 1);
	EXPECT_EQ(rep.divergence->seq, ev[k + 1].seq);
	EXPECT_EQ(rep.divergence->what, "x0");
	EXPECT_EQ(rep.divergence->expected, "0x0 (E_RMM_OK)");
	EXPECT_EQ(rep.divergence->got, "0xfffffffffffffffd (E_RMM_BAD_PAS)");
	EXPECT_NE(rep.format().find("diverged at event #"), std::string::npos) << rep.format();
	EXPECT_EQ(rep.to_json()["divergence"]["what"], "x0");
}

TEST(Replay, AnotherStartingCarveoutDivergesAtTheFirstCallThatSeesIt)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(1));
	tfa_boot(r);
	// A carveout where an RMM already ran and delegated 0x80000000: the cold boot starts activation 2.
	std::array<uint64_t, 16> granules{};
	{
		CarveoutOpenRequest c;
		c.path = dir.file("other.img");
		c.durability = Durability::Process;
		c.overrides.payload_default = PayloadDefault::Tfa;
		Monitor m(Carveout::open(c), tfa(1));
		SmcResult out{};
		m.call(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000}, out);
		ASSERT_EQ(out[0], 0u);
		granules = m.status().gpt_granules;
	}
	replay::Options o;
	o.from_carveout = dir.file("other.img");
	const auto rep = replay::run(r.events(), o);
	ASSERT_FALSE(rep.identical());
	EXPECT_NE(rep.divergence->event.find("entry cold"), std::string::npos) << rep.format();
	EXPECT_EQ(rep.divergence->what, "activation");
	EXPECT_EQ(rep.divergence->expected, "1");
	EXPECT_EQ(rep.divergence->got, "2");
	// The carveout it started from is left as it was.
	CarveoutOpenRequest c;
	c.path = dir.file("other.img");
	Monitor m(Carveout::open(c), tfa(1));
	EXPECT_EQ(m.status().gpt_granules, granules);
	EXPECT_EQ(m.status().activation, 1u);

	// Registers only, from the first SMC on: the delegation is where it differs.
	auto ev = r.events();
	ev.erase(std::remove_if(ev.begin(), ev.end(), [](const trace::Event& e) { return e.kind == trace::Kind::Entry; }),
	         ev.end());
	const auto rep2 = replay::run(ev, o);
	ASSERT_FALSE(rep2.identical());
	EXPECT_NE(rep2.divergence->event.find("RMM_GTSI_DELEGATE"), std::string::npos) << rep2.format();
	EXPECT_EQ(rep2.divergence->what, "x0");
	EXPECT_EQ(rep2.divergence->got, "0xfffffffffffffffd (E_RMM_BAD_PAS)");
}

TEST(Replay, WithoutASeedTheMemoryWrittenDiffersButTheRegistersReplay)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(std::nullopt));
	r.monitor->enter(0, EntryKind::Cold);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_ATTEST_GET_REALM_KEY, {kShared, 0x1000, 0})[0], 0u);
	const auto ev = r.events();
	const auto rep = replay::run(ev, {});
	ASSERT_FALSE(rep.identical());
	EXPECT_EQ(rep.divergence->what, "memory written");
	EXPECT_NE(rep.format().find("without --seed"), std::string::npos) << rep.format();
	replay::Options o;
	o.registers_only = true;
	EXPECT_TRUE(replay::run(ev, o).identical());
}

TEST(Replay, InjectedAnswersAreNotReissuedAndRmisAreCounted)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(1));
	tfa_boot(r);
	auto ev = r.events();
	trace::Event inj = ev.back();
	inj.kind = trace::Kind::Smc;
	inj.fid = EL3_FID_RMM_GTSI_DELEGATE;
	inj.in = {0x80000000};
	inj.out = {kBadPas};
	inj.injected = true;
	ev.push_back(inj);
	trace::Event rmi = inj;
	rmi.kind = trace::Kind::Rmi;
	rmi.injected = false;
	ev.push_back(rmi);
	const auto rep = replay::run(ev, {});
	EXPECT_TRUE(rep.identical()) << rep.format();
	EXPECT_EQ(rep.injected, 1u);
	EXPECT_EQ(rep.rmis, 1u);
}

TEST(Replay, ATraceWithoutStartEventIsRefusedWithTheReason)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(1));
	r.monitor->enter(0, EntryKind::Cold);
	auto ev = r.events();
	ev.erase(ev.begin());
	try {
		replay::run(ev, {});
		FAIL() << "replayed without a start event";
	} catch (const std::runtime_error& e) {
		EXPECT_NE(std::string(e.what()).find("no start event"), std::string::npos) << e.what();
	}
	ev = r.events();
	ev[0].config["monitor"]["abi"] = "bogus";
	try {
		replay::run(ev, {});
		FAIL() << "replayed a start event with an unknown ABI";
	} catch (const std::invalid_argument& e) {
		EXPECT_NE(std::string(e.what()).find("monitor.abi"), std::string::npos) << e.what();
	}
}

TEST(Replay, SeededMonitorsAgreeOnKeysAndSignatures)
{
	el3d::test::TempDir dir;
	Recording a(dir, tfa(5), "a.img");
	el3d::test::TempDir dir2;
	Recording b(dir2, tfa(5), "b.img");
	EXPECT_EQ(a.monitor->status().realm_key, b.monitor->status().realm_key);
	EXPECT_EQ(a.monitor->status().platform_key, b.monitor->status().platform_key);
	el3d::test::TempDir dir3;
	Recording c(dir3, tfa(6), "c.img");
	EXPECT_NE(a.monitor->status().realm_key, c.monitor->status().realm_key);
}

TEST(Replay, ARestoreInTheTraceIsRedoneFromTheSameSnapshot)
{
	el3d::test::TempDir dir;
	Recording r(dir, tfa(3));
	r.monitor->enter(0, EntryKind::Cold);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000})[0], 0u);
	snapshot::Store store(dir.file("snaps"));
	r.monitor->quiesce([&] { store.save("booted", dir.file("c.img"), {}, false); });
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80001000})[0], 0u);
	r.monitor->restore(store.path_of("booted"), true);
	r.tracer.record(trace::Event{.kind = trace::Kind::Snapshot, .note = "restore booted (forced)"});
	// After the restore 0x80001000 is Non-secure again, 0x80000000 still Realm.
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80001000})[0], 0u);
	EXPECT_EQ(r.smc(0, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000})[0], kBadPas);
	replay::Options o;
	o.snapshot_dir = dir.file("snaps");
	const auto rep = replay::run(r.events(), o);
	EXPECT_TRUE(rep.identical()) << rep.format();
	EXPECT_EQ(rep.restores, 1u);
	// Without the snapshot the replay cannot follow, and says so at the restore.
	o.snapshot_dir = dir.file("elsewhere");
	const auto lost = replay::run(r.events(), o);
	ASSERT_FALSE(lost.identical());
	EXPECT_EQ(lost.divergence->what, "snapshot");
	EXPECT_NE(lost.divergence->got.find("--snapshot-dir"), std::string::npos) << lost.format();
}
