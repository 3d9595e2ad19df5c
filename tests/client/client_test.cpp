// el3client's C interface against the real daemon and in process.
#include "el3d/el3_client.h"
#include "el3d/el3_tfrmm.h"
#include "process.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

using namespace el3d::test;

extern "C" unsigned long monitor_call(unsigned long id, unsigned long a0, unsigned long a1, unsigned long a2,
                                      unsigned long a3, unsigned long a4, unsigned long a5);
struct smc_args {
	unsigned long v[12];
};
struct smc_result {
	unsigned long x[8];
};
extern "C" void monitor_call_with_arg_res(unsigned long fid, struct smc_args* args, struct smc_result* res);

namespace {

// Every test runs against the daemon and in process, with the same expectations.
class Client : public ::testing::TestWithParam<bool> {
protected:
	void SetUp() override
	{
		if (inproc()) {
			endpoint = "inproc:" + dir.file("c.img");
		} else {
			daemon = std::make_unique<Daemon>(dir);
			ASSERT_TRUE(daemon->start()) << daemon->log();
			endpoint = "unix:" + daemon->socket;
		}
		el3_error err;
		ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	}
	void TearDown() override { el3_disconnect(c); }
	bool inproc() const { return GetParam(); }

	TempDir dir;
	std::unique_ptr<Daemon> daemon;
	std::string endpoint;
	el3_client* c = nullptr;
};

TEST_P(Client, EnterCpusAndUsePhysicalAddressesDirectly)
{
	el3_info info;
	ASSERT_EQ(el3_get_info(c, &info, nullptr), EL3_OK);
	EXPECT_STREQ(info.platform, "fvp");
	EXPECT_EQ(info.rmm_base, 0xFDC00000u);
	EXPECT_EQ(el3_identity_mapped(c), 1);

	el3_cpu* cpu0;
	el3_regs e;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu0, &e, &err), EL3_OK) << err.message;
	EXPECT_EQ(e.x[0], 0u);
	EXPECT_EQ(e.x[1], 6u);
	EXPECT_EQ(e.x[2], 8u);
	EXPECT_EQ(e.x[3], 0xFFBFF000u);
	// The Boot Manifest el3d wrote is right there, at the physical address, with no copy.
	const auto* manifest = reinterpret_cast<const uint32_t*>(static_cast<uintptr_t>(e.x[3]));
	EXPECT_EQ(manifest[0], 5u);  // version 0.5
	EXPECT_EQ(el3_pa_to_va(c, e.x[3]), manifest);
	EXPECT_EQ(el3_va_to_pa(c, manifest), e.x[3]);
	EXPECT_EQ(el3_pa_to_va(c, 0xFDBFFFFF), nullptr);

	const uint64_t args[12] = {0x2000, EL3_ALLOC_X2(12, 1)};
	el3_regs r;
	ASSERT_EQ(el3_smc(cpu0, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err), EL3_OK);
	EXPECT_EQ(r.x[0], 1u);
	auto* region = reinterpret_cast<uint64_t*>(static_cast<uintptr_t>(r.x[1]));
	region[0] = 0x1122334455667788;  // write through the mapping...
	el3_cpu_leave(cpu0);
	el3_disconnect(c);
	c = nullptr;
	// ...and a new client (a new RMM instance) finds it, and gets x0 = 0 for the same tag.
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu0, &e, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_smc(cpu0, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err), EL3_OK);
	EXPECT_EQ(r.x[0], 0u);
	EXPECT_EQ(reinterpret_cast<uint64_t*>(static_cast<uintptr_t>(r.x[1]))[0], 0x1122334455667788u);
	el3_cpu_leave(cpu0);
}

TEST_P(Client, SecondSessionOnACpuIsRefused)
{
	el3_cpu *a, *b = nullptr;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 2, EL3_ENTRY_COLD, &a, nullptr, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_cpu_enter(c, 2, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_ERR_REFUSED);
	EXPECT_EQ(err.code, EL3_ERR_REFUSED);
	EXPECT_NE(std::string(err.message).find("already has a session"), std::string::npos) << err.message;
	EXPECT_EQ(b, nullptr);
	EXPECT_EQ(el3_cpu_enter(c, 8, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_ERR_INVALID);
	el3_cpu_leave(a);
	ASSERT_EQ(el3_cpu_enter(c, 2, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_OK) << err.message;
	el3_cpu_leave(b);
}

TEST_P(Client, CpusRunInParallel)
{
	el3_cpu* cpus[4];
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_COLD, &cpus[0], nullptr, &err), EL3_OK) << err.message;
	for (unsigned i = 1; i < 4; ++i)
		ASSERT_EQ(el3_cpu_enter(c, i, EL3_ENTRY_WARM, &cpus[i], nullptr, &err), EL3_OK) << err.message;
	std::atomic<int> bad{0};
	std::vector<std::thread> t;
	for (unsigned i = 0; i < 4; ++i)
		t.emplace_back([&, i] {
			for (uint64_t g = 0; g < 50; ++g) {
				const uint64_t args[12] = {0x80000000 + (i * 1000 + g) * 0x1000};
				el3_regs r;
				if (el3_smc(cpus[i], EL3_FID_RMM_GTSI_DELEGATE, args, &r, nullptr) != EL3_OK || r.x[0] != 0)
					++bad;
			}
		});
	for (auto& th : t)
		th.join();
	EXPECT_EQ(bad, 0);
	for (auto* p : cpus)
		el3_cpu_leave(p);
}

TEST_P(Client, LeavingTheLastCpuEndsTheActivation)
{
	el3_cpu *a, *b;
	el3_regs e;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, &e, nullptr), EL3_OK);
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, &e, nullptr), EL3_OK);
	EXPECT_EQ(e.x[2], 0u);  // warm
	el3_cpu_leave(a);
	el3_cpu_leave(b);
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, &e, nullptr), EL3_OK);
	EXPECT_EQ(e.x[3], 0xFFBFF000u);  // cold again: a new RMM instance
	el3_cpu_leave(b);
}

TEST_P(Client, TfRmmDropInUsesTheBoundCpu)
{
	el3_cpu* a;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, nullptr), EL3_OK);
	EXPECT_EQ(el3_tfrmm_bound(), a);  // entering binds the calling thread
	EXPECT_EQ(monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0), 0u);
	smc_args args{};
	args.v[0] = 0x1000;
	args.v[1] = EL3_ALLOC_X2(12, 0);
	smc_result res{};
	monitor_call_with_arg_res(EL3_FID_RMM_ALLOCATE_MEMORY, &args, &res);
	EXPECT_EQ(res.x[0], 1u);
	EXPECT_EQ(res.x[1], 0xFFBFE000u);
	EXPECT_EQ(monitor_call(0xC4000400, 0, 0, 0, 0, 0, 0), ~0ul);  // FIRME: SMC_UNK
	// Another thread has no CPU until it binds one.
	unsigned long other = 0;
	std::thread([&] { other = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0); }).join();
	EXPECT_EQ(other, ~0ul);
	std::thread([&] {
		el3_tfrmm_bind(a);
		other = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
	}).join();
	EXPECT_EQ(other, 0u);
	el3_cpu_leave(a);
	EXPECT_EQ(el3_tfrmm_bound(), nullptr);
}

TEST_P(Client, FailedBootEndsTheProcess)
{
	el3_disconnect(c);  // the child makes its own connection (and, in process, its own lock)
	c = nullptr;
	pid_t pid = ::fork();
	if (pid == 0) {
		el3_client* cc;
		el3_cpu* cpu;
		if (el3_connect(endpoint.c_str(), &cc, nullptr) != EL3_OK ||
		    el3_cpu_enter(cc, 0, EL3_ENTRY_AUTO, &cpu, nullptr, nullptr) != EL3_OK)
			::_exit(42);
		el3_boot_complete(cpu, E_RMM_BOOT_MANIFEST_DATA_ERROR, 0, nullptr);
		::_exit(43);  // not reached
	}
	int st = 0;
	::waitpid(pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 1);
	el3_error err;
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	el3_cpu* cpu;
	// The Realm world is disabled now: no CPU can be entered until a reset.
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_ERR_REFUSED);
	EXPECT_NE(std::string(err.message).find("E_RMM_BOOT_MANIFEST_DATA_ERROR"), std::string::npos) << err.message;
}

INSTANTIATE_TEST_SUITE_P(Endpoints, Client, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "inproc" : "daemon"; });

TEST(ClientErrors, UnreachableAndBadEndpoints)
{
	TempDir d;
	el3_client* c = reinterpret_cast<el3_client*>(1);
	el3_error err;
	EXPECT_EQ(el3_connect(("unix:" + d.file("none.sock")).c_str(), &c, &err), EL3_ERR_CONNECT);
	EXPECT_EQ(c, nullptr);
	EXPECT_NE(std::string(err.message).find("no el3d socket"), std::string::npos) << err.message;
	EXPECT_EQ(el3_connect("tcp:1.2.3.4", &c, &err), EL3_ERR_INVALID);
	EXPECT_EQ(el3_connect(("inproc:" + d.file("c.img") + "?abi=bogus").c_str(), &c, &err), EL3_ERR_INVALID);
	write_file(d.file("junk.img"), std::string(8192, 'j'));
	EXPECT_EQ(el3_connect(("inproc:" + d.file("junk.img")).c_str(), &c, &err), EL3_ERR_CONNECT);
	EXPECT_NE(std::string(err.message).find("not an el3d carveout file"), std::string::npos) << err.message;
	EXPECT_EQ(el3_connect(nullptr, nullptr, &err), EL3_ERR_INVALID);
	EXPECT_STREQ(el3_strerror(EL3_ERR_REFUSED), "refused by el3d");
}

TEST(ClientErrors, InprocHoldsTheCarveoutLikeADaemon)
{
	TempDir d;
	el3_client* c;
	el3_error err;
	ASSERT_EQ(el3_connect(("inproc:" + d.file("c.img") + "?abi=tfa").c_str(), &c, &err), EL3_OK) << err.message;
	el3_info info;
	el3_get_info(c, &info, nullptr);
	EXPECT_STREQ(info.abi, "tfa");
	Daemon el3d(d);
	EXPECT_EQ(el3d.run_to_exit(), 2);  // the file is in use
	el3_disconnect(c);
}

TEST(ClientMapping, FallsBackToAnOffsetMappingWhenTheRangeIsTaken)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	// Occupy the carveout's physical range in our own address space first.
	void* taken = ::mmap(reinterpret_cast<void*>(0xFDC00000), 0x10000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
	                     MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_NE(taken, MAP_FAILED);
	el3_client* c;
	el3_error err;
	ASSERT_EQ(el3_connect(("unix:" + el3d.socket).c_str(), &c, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_identity_mapped(c), 0);
	el3_cpu* cpu;
	el3_regs e;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, &e, &err), EL3_OK) << err.message;
	auto* manifest = static_cast<const uint32_t*>(el3_pa_to_va(c, e.x[3]));
	ASSERT_NE(manifest, nullptr);
	EXPECT_NE(reinterpret_cast<uintptr_t>(manifest), e.x[3]);
	EXPECT_EQ(manifest[0], 5u);
	el3_cpu_leave(cpu);
	el3_disconnect(c);
	::munmap(taken, 0x10000);
}

}  // namespace
