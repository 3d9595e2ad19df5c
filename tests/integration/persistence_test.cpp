// What survives what: client restarts, daemon SIGKILL at any instant, daemon restarts, reset.
#include "harness.hpp"

#include "el3d/smc.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

using namespace el3d::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kAlloc = EL3_FID_RMM_ALLOCATE_MEMORY;

std::string pattern_for(uint64_t addr, std::size_t len)
{
	std::string p(len, '\0');
	for (std::size_t i = 0; i < len; ++i)
		p[i] = static_cast<char>((addr >> (8 * (i % 8))) ^ i ^ 0xa5);
	return p;
}

bool write_mem(el3d::v1::Monitor::Stub& stub, uint64_t addr, const std::string& bytes)
{
	el3d::v1::WriteMemoryRequest req;
	req.set_address(addr);
	req.set_data(bytes);
	el3d::v1::WriteMemoryResponse resp;
	return stub.WriteMemory(ctx(2s).get(), req, &resp).ok();
}

std::string read_mem(el3d::v1::Monitor::Stub& stub, uint64_t addr, uint64_t len)
{
	el3d::v1::ReadMemoryRequest req;
	req.set_address(addr);
	req.set_length(len);
	el3d::v1::ReadMemoryResponse resp;
	auto st = stub.ReadMemory(ctx().get(), req, &resp);
	EXPECT_TRUE(st.ok()) << st.error_message();
	return resp.data();
}

}  // namespace

TEST(Persistence, TaggedRegionSurvivesClientRestarts)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	// Each el3ctl invocation is a separate client process that exits afterwards.
	auto a = el3ctl(el3d.socket, {"alloc", "--size", "0x2000", "--align-bits", "12", "--id", "1"});
	ASSERT_EQ(a.rc, 0) << a.err;
	ASSERT_EQ(a.out.substr(0, 5), "addr=");
	const std::string addr = a.out.substr(5, 18);
	EXPECT_NE(a.out.find(" fresh"), std::string::npos);
	ASSERT_EQ(el3ctl(el3d.socket, {"mem", "write", addr, "0123456789abcdef"}).rc, 0);
	auto b = el3ctl(el3d.socket, {"alloc", "--size", "0x2000", "--align-bits", "12", "--id", "1"});
	ASSERT_EQ(b.rc, 0) << b.err;
	EXPECT_EQ(b.out.substr(5, 18), addr);
	EXPECT_NE(b.out.find(" existing"), std::string::npos);
	EXPECT_EQ(el3ctl(el3d.socket, {"mem", "read", addr, "8"}).out, "0123456789abcdef\n");
	// The raw SMC says x0 = 0 (E_RMM_OK) for the existing region, x1 = its address.
	auto raw = el3ctl(el3d.socket, {"smc", "--raw", "0xC40001B7", "0x2000", "0x0c000001"});
	EXPECT_EQ(raw.out.substr(0, 43), "x0=0x0000000000000000 x1=" + addr);
}

TEST(Persistence, RegionsSurviveSigkillOfTheDaemon)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	uint64_t addr[4];
	{
		auto stub = connect(el3d.socket);
		for (uint32_t id = 1; id <= 3; ++id) {
			auto r = smc(*stub, kAlloc, 0x1000 * id, EL3_ALLOC_X2(12, id));
			ASSERT_EQ(r.x0(), 1u);
			addr[id] = r.x1();
			ASSERT_TRUE(write_mem(*stub, addr[id], pattern_for(addr[id], 0x1000 * id)));
		}
		smc(*stub, kAlloc, 0x100, 0);  // untagged
	}
	const uint64_t top = get_state(*connect(el3d.socket)).top();
	el3d.signal(SIGKILL);
	ASSERT_EQ(el3d.wait(), 128 + SIGKILL);

	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	auto s = get_state(*stub);
	EXPECT_EQ(s.top(), top);
	EXPECT_EQ(s.regions_size(), 4);
	for (uint32_t id = 1; id <= 3; ++id) {
		auto r = smc(*stub, kAlloc, 0x1000 * id, EL3_ALLOC_X2(12, id));
		EXPECT_EQ(r.x0(), 0u) << "id " << id;  // E_RMM_OK: existing region
		EXPECT_EQ(r.x1(), addr[id]);
		EXPECT_TRUE(read_mem(*stub, addr[id], 0x1000 * id) == pattern_for(addr[id], 0x1000 * id)) << "id " << id;
	}
	EXPECT_LT(smc(*stub, kAlloc, 0x10, 0).x1(), top);  // new memory goes below the old top
}

TEST(Persistence, SigkillAtAnyInstantLosesNothingAcknowledged)
{
	TempDir d;
	Daemon el3d(d, {"--region-slots", "65536"});
	std::mt19937 rng(12345);
	struct Acked {
		uint64_t addr, size;
		uint32_t id;
		bool written;
	};
	std::vector<Acked> acked;
	uint32_t next_id = 1;
	for (int round = 0; round < 6; ++round) {
		ASSERT_TRUE(el3d.start()) << "round " << round << ": " << el3d.log();
		auto stub = connect(el3d.socket);
		// Everything acknowledged before is still there, with its content.
		auto s = get_state(*stub);
		std::map<uint64_t, std::pair<uint64_t, uint32_t>> have;
		for (const auto& r : s.regions())
			have[r.address()] = {r.size(), r.id()};
		for (const auto& a : acked) {
			auto it = have.find(a.addr);
			ASSERT_NE(it, have.end()) << "round " << round << ": lost region at " << a.addr;
			EXPECT_EQ(it->second.first, a.size);
			EXPECT_EQ(it->second.second, a.id);
			if (a.written) {
				ASSERT_TRUE(read_mem(*stub, a.addr, a.size) == pattern_for(a.addr, a.size)) << "round " << round;
			}
		}
		// Allocate and fill as fast as possible from two threads, and pull the plug mid-way.
		std::mutex mu;
		std::atomic<bool> stop{false};
		auto worker = [&](int t) {
			auto my = connect(el3d.socket);
			while (!stop) {
				uint32_t id;
				{
					std::lock_guard l(mu);
					id = (t == 0) ? next_id++ : 0;
				}
				const uint64_t size = 0x40 + (id * 97 + static_cast<uint64_t>(t) * 13) % 0x400;
				el3d::v1::SmcRequest req;
				req.set_fid(kAlloc);
				req.set_cpu(static_cast<uint32_t>(t));
				req.set_x1(size);
				req.set_x2(EL3_ALLOC_X2(4, id));
				el3d::v1::SmcResponse resp;
				if (!my->Smc(ctx(2s).get(), req, &resp).ok())
					break;  // the daemon is gone
				if (resp.x0() != 1)
					break;
				Acked a{resp.x1(), size, id, false};
				{
					std::lock_guard l(mu);
					acked.push_back(a);
				}
				if (id != 0 && write_mem(*my, a.addr, pattern_for(a.addr, size))) {
					std::lock_guard l(mu);
					for (auto it = acked.rbegin(); it != acked.rend(); ++it)
						if (it->addr == a.addr) {
							it->written = true;
							break;
						}
				}
			}
		};
		std::thread t0(worker, 0), t1(worker, 1);
		std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 150));
		el3d.signal(SIGKILL);
		EXPECT_EQ(el3d.wait(), 128 + SIGKILL);
		stop = true;
		t0.join();
		t1.join();
	}
	EXPECT_GT(acked.size(), 20u) << "the test did not exercise enough allocations";
	// Tagged regions come back at the same address.
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	for (const auto& a : acked)
		if (a.id != 0) {
			auto r = smc(*stub, kAlloc, a.size, EL3_ALLOC_X2(4, a.id));
			ASSERT_EQ(r.x0(), 0u);
			ASSERT_EQ(r.x1(), a.addr);
		}
}

TEST(Persistence, SigtermFinishesAndKeepsEverything)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	std::atomic<int> acked{0};
	std::atomic<bool> stop{false};
	std::thread client([&] {
		auto stub = connect(el3d.socket);
		while (!stop) {
			el3d::v1::SmcRequest req;
			req.set_fid(kAlloc);
			req.set_x1(0x20);
			el3d::v1::SmcResponse resp;
			if (!stub->Smc(ctx(2s).get(), req, &resp).ok() || resp.x0() != 1)
				break;
			++acked;
		}
	});
	std::this_thread::sleep_for(100ms);
	el3d.signal(SIGTERM);
	EXPECT_EQ(el3d.wait(2s), 0) << el3d.log();
	stop = true;
	client.join();
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_EQ(get_state(*connect(el3d.socket)).regions_size(), acked.load());
}

TEST(Persistence, ResetForgetsEverythingAndZeroesMemory)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto a = el3ctl(el3d.socket, {"alloc", "--size", "0x1000", "--id", "2"});
	ASSERT_EQ(a.rc, 0);
	const std::string addr = a.out.substr(5, 18);
	ASSERT_EQ(el3ctl(el3d.socket, {"mem", "write", addr, "ffffffff"}).rc, 0);
	ASSERT_EQ(el3ctl(el3d.socket, {"smc", "0xC40001CF", "0"}).rc, 0);
	auto r = el3ctl(el3d.socket, {"reset"});
	EXPECT_EQ(r.rc, 0) << r.err;
	auto s = get_state(*connect(el3d.socket));
	EXPECT_EQ(s.regions_size(), 0);
	EXPECT_EQ(s.cpus_size(), 0);
	EXPECT_EQ(s.top(), s.rmm_limit());
	EXPECT_EQ(s.epoch(), 2u);
	EXPECT_EQ(el3ctl(el3d.socket, {"mem", "read", addr, "4"}).out, "00000000\n");
	// ...and the reset itself is durable.
	el3d.signal(SIGKILL);
	el3d.wait();
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_EQ(get_state(*connect(el3d.socket)).regions_size(), 0);
	auto again = el3ctl(el3d.socket, {"alloc", "--size", "0x1000", "--id", "2"});
	EXPECT_NE(again.out.find(" fresh"), std::string::npos);
}

// docs/persistence.md, "A new RMM process is a new instance only if it says so": plain Smc
// clients share one activation across their restarts; a boot entry starts a new one.
TEST(Persistence, PlainSmcClientsShareOneActivationUntilABootEntry)
{
	TempDir d;
	Daemon el3d(d, {"--strict-boot"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	const uint64_t x2 = EL3_ALLOC_X2(12, 1);
	uint64_t addr = 0, activation = 0;
	{
		// First RMM process: allocates its tagged region and completes its boot on CPU 0.
		auto stub = connect(el3d.socket);
		auto r = smc(*stub, kAlloc, 0x1000, x2);
		ASSERT_EQ(r.x0(), 1u);
		addr = r.x1();
		ASSERT_EQ(smc(*stub, EL3_FID_RMM_BOOT_COMPLETE, 0).x0(), 0u);
		activation = get_state(*stub).activation();
	}
	{
		// Second RMM process, plain Smc again: the same activation, and CPU 0 has booted in it.
		auto stub = connect(el3d.socket);
		EXPECT_EQ(static_cast<int64_t>(smc(*stub, kAlloc, 0x1000, x2).x0()), EL3_E_RMM_UNK);
		EXPECT_EQ(get_state(*stub).activation(), activation);
	}
	// With a boot entry first (here the carveout file's very first one), the next process is a new
	// instance and finds its region again.
	auto boot = el3ctl(el3d.socket, {"boot"});
	ASSERT_EQ(boot.rc, 0) << boot.err;
	auto stub = connect(el3d.socket);
	auto again = smc(*stub, kAlloc, 0x1000, x2);
	EXPECT_EQ(again.x0(), static_cast<uint64_t>(EL3_E_RMM_OK));
	EXPECT_EQ(again.x1(), addr);
	EXPECT_GT(get_state(*stub).activation(), activation);
}
