#pragma once
#include "el3d/monitor/monitor.hpp"
#include "el3d/smc.h"
#include "tempdir.hpp"

#include <gtest/gtest.h>

namespace el3d::test {

class MonitorTest : public ::testing::Test {
protected:
	void SetUp() override { open(); }
	void open(MonitorOptions o = {}, GeometryOverrides g = {}, bool reset = false,
	          std::optional<std::string> platform = std::nullopt)
	{
		monitor.reset();
		CarveoutOpenRequest r;
		r.path = dir.file("c.img");
		r.overrides = g;
		r.reset = reset;
		r.platform = platform;
		r.durability = durability;
		monitor = std::make_unique<Monitor>(Carveout::open(r), o);
	}
	SmcResult smc(uint64_t fid, SmcArgs x = {}, uint32_t cpu = 0)
	{
		SmcResult out{};
		EXPECT_TRUE(monitor->call(cpu, fid, x, out));
		return out;
	}
	SmcResult alloc(uint64_t size, unsigned align_bits, uint32_t id, uint32_t cpu = 0)
	{
		return smc(EL3_FID_RMM_ALLOCATE_MEMORY, {size, EL3_ALLOC_X2(align_bits, id)}, cpu);
	}
	static int64_t x0(const SmcResult& r) { return static_cast<int64_t>(r[0]); }
	const Geometry& geom() const { return monitor->geometry(); }

	TempDir dir;
	std::unique_ptr<Monitor> monitor;
	// What a reopen sees after a process ends is in the page cache either way; the flushes to disk
	// are tested in src/carveout (and by the daemon's tests), so the monitor's tests skip them.
	Durability durability = Durability::Process;
};

}  // namespace el3d::test
