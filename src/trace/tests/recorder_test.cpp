// The monitor's SMCs and boot entries in the trace, with what they changed.
#include "el3d/trace/recorder.hpp"

#include "el3d/smc.h"
#include "tempdir.hpp"

#include <gtest/gtest.h>

using namespace el3d;
using namespace el3d::trace;

TEST(MonitorRecorder, EverySmcAndEntryIsAnEventWithItsEffects)
{
	el3d::test::TempDir dir;
	CarveoutOpenRequest r;
	r.path = dir.file("c.img");
	r.durability = Durability::Process;
	Monitor m(Carveout::open(r), {});
	Tracer t;
	MonitorRecorder rec(t);
	m.set_observer(&rec);
	SmcResult out{};
	m.call(0, EL3_FID_RMM_ALLOCATE_MEMORY, {0x2000, EL3_ALLOC_X2(12, 1)}, out);  // no listener: not built
	EXPECT_EQ(t.recorded(), 0u);
	t.set_ring(16);
	m.enter(0, EntryKind::Auto);
	m.call(0, EL3_FID_RMM_ALLOCATE_MEMORY, {0x2000, EL3_ALLOC_X2(12, 1)}, out);
	m.call(1, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000}, out);
	m.call(1, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000}, out);
	m.call(0, 0xC4000299, {7}, out);
	m.call(0, EL3_FID_RMM_BOOT_COMPLETE, {0, 0x55}, out);
	const std::vector<Event> ev = t.ring();
	ASSERT_EQ(ev.size(), 6u);
	EXPECT_EQ(ev[0].kind, Kind::Entry);
	EXPECT_EQ(ev[0].name, "cold");
	EXPECT_EQ(ev[0].activation, m.status().activation);  // CPU 0 ran before: a new activation
	EXPECT_EQ(ev[1].name, "RMM_ALLOCATE_MEMORY");
	EXPECT_EQ(ev[1].result, "E_RMM_OK");
	ASSERT_EQ(ev[1].effects.size(), 1u);
	EXPECT_NE(ev[1].effects[0].find("region id=1"), std::string::npos) << ev[1].effects[0];
	EXPECT_NE(ev[1].effects[0].find("handed back"), std::string::npos) << ev[1].effects[0];
	EXPECT_EQ(ev[2].cpu, 1u);
	EXPECT_EQ(ev[2].effects, std::vector<std::string>{"gpt 0x80000000 ns->realm"});
	EXPECT_EQ(ev[3].result, "E_RMM_BAD_PAS");
	EXPECT_TRUE(ev[3].effects.empty()) << "a refused call changes nothing";
	EXPECT_EQ(ev[4].result, "E_RMM_UNK/SMC_UNK");
	EXPECT_EQ(ev[4].out[1], 7u);
	EXPECT_NE(ev[5].effects.at(0).find("cpu booted, token 0x55"), std::string::npos) << ev[5].effects[0];
	EXPECT_GT(ev[5].duration_ns, 0u);
	m.set_observer(nullptr);
}
