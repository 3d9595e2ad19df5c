// el3client's C interface against the real daemon and in process.
#include "el3d/el3_client.h"
#include "el3d/el3_tfrmm.h"
#include "endpoint_fixture.hpp"
#include "process.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using namespace el3d::test;

namespace {
#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer reserves [0x7fff8000, 0x10007fff8000) of the address space on x86-64 (its shadow
// memory and the shadow gap), which holds the carveout's range: el3client falls back to its offset mapping.
constexpr int kIdentity = 0;
#else
constexpr int kIdentity = 1;
#endif
}  // namespace

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
class Client : public el3d::test::EndpointTest {};

TEST_P(Client, EnterCpusAndUsePhysicalAddressesDirectly)
{
	el3_info info;
	ASSERT_EQ(el3_get_info(c, &info, nullptr), EL3_OK);
	EXPECT_STREQ(info.platform, "fvp");
	EXPECT_EQ(info.rmm_base, 0xFDC00000u);
	EXPECT_EQ(el3_identity_mapped(c), kIdentity);
	// A physical address as a pointer: the address itself (PA == VA), or where the offset mapping has it.
	auto at = [&](uint64_t pa) {
		return kIdentity ? reinterpret_cast<void*>(static_cast<uintptr_t>(pa)) : el3_pa_to_va(c, pa);
	};

	el3_cpu* cpu0;
	el3_regs e;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu0, &e, &err), EL3_OK) << err.message;
	EXPECT_EQ(e.x[0], 0u);
	EXPECT_EQ(e.x[1], 6u);
	EXPECT_EQ(e.x[2], 8u);
	EXPECT_EQ(e.x[3], 0xFFBFF000u);
	// The Boot Manifest el3d wrote is right there, at the physical address, with no copy.
	const auto* manifest = static_cast<const uint32_t*>(at(e.x[3]));
	EXPECT_EQ(manifest[0], 5u);  // version 0.5
	EXPECT_EQ(el3_pa_to_va(c, e.x[3]), manifest);
	EXPECT_EQ(el3_va_to_pa(c, manifest), e.x[3]);
	EXPECT_EQ(el3_pa_to_va(c, 0xFDBFFFFF), nullptr);

	const uint64_t args[12] = {0x2000, EL3_ALLOC_X2(12, 1)};
	el3_regs r;
	ASSERT_EQ(el3_smc(cpu0, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err), EL3_OK);
	EXPECT_EQ(r.x[0], 1u);
	auto* region = static_cast<uint64_t*>(at(r.x[1]));
	region[0] = 0x1122334455667788;  // write through the mapping...
	el3_cpu_leave(cpu0);
	el3_disconnect(c);
	c = nullptr;
	// ...and a new client (a new RMM instance) finds it, and gets x0 = 0 for the same tag.
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu0, &e, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_smc(cpu0, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err), EL3_OK);
	EXPECT_EQ(r.x[0], 0u);
	EXPECT_EQ(static_cast<uint64_t*>(at(r.x[1]))[0], 0x1122334455667788u);
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
	el3_cpu *a, *b;
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
	// An unbound thread uses the process's only session...
	unsigned long other = 1;
	std::thread([&] { other = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0); }).join();
	EXPECT_EQ(other, 0u);
	// ...but with two it has no CPU until it binds one, and is told so once.
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, nullptr), EL3_OK);
	el3_tfrmm_bind(a);
	unsigned long o1 = 0, o2 = 0;
	::testing::internal::CaptureStderr();
	std::thread([&] {
		o1 = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
		o2 = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
	}).join();
	const std::string said = ::testing::internal::GetCapturedStderr();
	EXPECT_EQ(o1, ~0ul);
	EXPECT_EQ(o2, ~0ul);
	const auto first = said.find("el3_tfrmm_select(n)");
	EXPECT_NE(first, std::string::npos) << said;
	EXPECT_EQ(said.find("el3_tfrmm_select(n)", first + 1), std::string::npos) << "said more than once: " << said;
	EXPECT_NE(said.find("0xc40001b4"), std::string::npos) << said;  // the FID, in hex
	std::thread([&] {
		el3_tfrmm_bind(a);
		other = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
	}).join();
	EXPECT_EQ(other, 0u);
	el3_cpu_leave(a);
	EXPECT_EQ(el3_tfrmm_bound(), nullptr);
	el3_cpu_leave(b);
}

TEST_P(Client, EntryKindAndActivationAreReported)
{
	el3_cpu *a, *b;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_cpu_entry_kind(a), EL3_ENTRY_COLD);
	EXPECT_EQ(el3_cpu_entry_kind(b), EL3_ENTRY_WARM);
	EXPECT_EQ(el3_cpu_activation(a), 1u);
	EXPECT_EQ(el3_cpu_activation(b), 1u);
	EXPECT_EQ(el3_cpu_index(b), 1u);
	el3_cpu_leave(a);
	el3_cpu_leave(b);
	// A left handle reports nothing.
	EXPECT_EQ(el3_cpu_entry_kind(b), EL3_ENTRY_AUTO);
	EXPECT_EQ(el3_cpu_activation(b), 0u);
	EXPECT_EQ(el3_cpu_index(b), ~0u);
	// The next RMM instance: CPU 1 enters first, cold, in activation 2.
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_cpu_entry_kind(b), EL3_ENTRY_COLD);
	EXPECT_EQ(el3_cpu_activation(b), 2u);
	el3_cpu_leave(b);
	EXPECT_EQ(el3_cpu_entry_kind(nullptr), EL3_ENTRY_AUTO);
}

TEST_P(Client, ThreadsShareOneCpu)
{
	el3_cpu* a;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, nullptr), EL3_OK);
	std::atomic<int> bad{0};
	std::vector<std::thread> t;
	for (unsigned k = 0; k < 4; ++k)
		t.emplace_back([&, k] {
			if (k % 2 == 1)
				el3_tfrmm_bind(a);
			for (uint64_t g = 0; g < 100; ++g) {
				const uint64_t pa = 0x80000000 + (k * 1000 + g) * 0x1000;
				if (k % 2 == 0) {
					const uint64_t args[12] = {pa};
					el3_regs r;
					if (el3_smc(a, EL3_FID_RMM_GTSI_DELEGATE, args, &r, nullptr) != EL3_OK || r.x[0] != 0)
						++bad;
				} else if (monitor_call(EL3_FID_RMM_GTSI_DELEGATE, pa, 0, 0, 0, 0, 0) != 0) {
					++bad;
				}
			}
		});
	for (auto& th : t)
		th.join();
	EXPECT_EQ(bad, 0);
	el3_cpu_leave(a);
}

TEST_P(Client, LeavingFromAnotherThreadLeavesAStaleBindingNotACrash)
{
	el3_cpu *a, *b;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, nullptr), EL3_OK);
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, nullptr), EL3_OK);
	std::atomic<int> step{0};
	unsigned long before = 1, after = 0;
	std::string said;
	std::thread t([&] {
		el3_tfrmm_bind(a);
		before = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
		step = 1;
		while (step != 2)
			std::this_thread::yield();
		after = monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
		monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0);
	});
	while (step != 1)
		std::this_thread::yield();
	el3_cpu_leave(a);  // thread t is still bound to it
	::testing::internal::CaptureStderr();
	step = 2;
	t.join();
	said = ::testing::internal::GetCapturedStderr();
	EXPECT_EQ(before, 0u);
	EXPECT_EQ(after, ~0ul);
	const auto first = said.find("whose session has ended");
	EXPECT_NE(first, std::string::npos) << said;
	EXPECT_EQ(said.find("whose session has ended", first + 1), std::string::npos) << said;
	// The handle itself: calls fail, leaving it again does nothing.
	el3_regs r;
	el3_error err;
	EXPECT_EQ(el3_smc(a, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_INVALID);
	EXPECT_NE(std::string(err.message).find("not a CPU session"), std::string::npos) << err.message;
	el3_cpu_leave(a);
	// The other CPU is unaffected, and CPU 0 can be entered again.
	EXPECT_EQ(el3_smc(b, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	el3_cpu_leave(a);
	el3_cpu_leave(b);
}

TEST_P(Client, DisconnectLeavesEveryCpu)
{
	el3_cpu *a, *b;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_OK) << err.message;
	el3_disconnect(c);  // before leaving the CPUs
	c = nullptr;
	EXPECT_EQ(el3_tfrmm_bound(), nullptr);
	el3_regs r;
	EXPECT_EQ(el3_smc(a, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_INVALID);
	el3_cpu_leave(a);  // ended handles: nothing happens
	el3_cpu_leave(b);
	// The same process connects again and finds both CPUs free: a new activation.
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_cpu_entry_kind(a), EL3_ENTRY_COLD);
	EXPECT_EQ(el3_cpu_activation(a), 2u);
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_smc(b, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_OK) << err.message;
	el3_cpu_leave(a);
	el3_cpu_leave(b);
}

TEST_P(Client, SingleThreadedBootDriverSelectsEachCpu)
{
	// As TF-RMM's fake_host runs: every CPU on one thread, switching with el3_tfrmm_select().
	el3_cpu* cpus[3];
	el3_error err;
	for (unsigned n = 0; n < 3; ++n)
		ASSERT_EQ(el3_cpu_enter(c, n, EL3_ENTRY_AUTO, &cpus[n], nullptr, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_tfrmm_bound(), cpus[2]);  // the last entered
	for (unsigned n = 0; n < 3; ++n) {
		ASSERT_EQ(el3_tfrmm_select(n, &err), EL3_OK) << err.message;
		EXPECT_EQ(el3_tfrmm_bound(), cpus[n]);
		// BOOT_COMPLETE through the drop-in completes this CPU's boot, not the last entered one's.
		smc_args a{};
		smc_result res{};
		monitor_call_with_arg_res(EL3_FID_RMM_BOOT_COMPLETE, &a, &res);
		EXPECT_EQ(res.x[0], 0u);
	}
	EXPECT_EQ(el3_tfrmm_select(5, &err), EL3_ERR_INVALID);
	EXPECT_NE(std::string(err.message).find("no session for that CPU"), std::string::npos) << err.message;
	EXPECT_EQ(el3_tfrmm_bound(), cpus[2]);  // unchanged
	if (daemon) {
		const auto st = nlohmann::json::parse(el3ctl(daemon->socket, {"status", "--json"}).out);
		unsigned booted = 0;
		for (const auto& cpu : st["cpus"])
			booted += cpu["state"] == "booted" && cpu["completions"] == 1 ? 1 : 0;
		EXPECT_EQ(booted, 3u) << st.dump();
	}
	for (auto* p : cpus)
		el3_cpu_leave(p);
}

TEST_P(Client, BootCompleteReturnsEl3sRegisters)
{
	el3_cpu *a, *b, *f;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &b, nullptr, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 2, EL3_ENTRY_AUTO, &f, nullptr, &err), EL3_OK) << err.message;
	el3_regs r;
	ASSERT_EQ(el3_boot_complete(a, 0, 0x1234000, &r, &err), EL3_OK) << err.message;
	EXPECT_EQ(r.x[0], 0u);
	// CPU 2 fails its boot (a raw SMC: el3_boot_complete would end this process): the Realm
	// world is disabled, so el3d answers CPU 1's BOOT_COMPLETE with SMC_UNK, and both the API
	// and the drop-in must say so.
	const uint64_t fail[12] = {static_cast<uint64_t>(EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR)};
	ASSERT_EQ(el3_smc(f, EL3_FID_RMM_BOOT_COMPLETE, fail, &r, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_boot_complete(b, 0, 0x5678000, &r, &err), EL3_OK) << err.message;
	EXPECT_EQ(r.x[0], EL3_SMC_UNK);
	el3_tfrmm_bind(b);
	smc_args args{};
	args.v[1] = 0x5678000;
	smc_result res{};
	monitor_call_with_arg_res(EL3_FID_RMM_BOOT_COMPLETE, &args, &res);
	EXPECT_EQ(res.x[0], EL3_SMC_UNK);
	el3_cpu_leave(a);
	el3_cpu_leave(b);
	el3_cpu_leave(f);
}

// A child process enters CPU 0 and reports `result` with el3_boot_complete(), which must end it:
// its exit status (42: it could not enter; 43: el3_boot_complete returned).
int boot_fails_in_a_child(const std::string& endpoint, int64_t result)
{
	pid_t pid = ::fork();
	if (pid == 0) {
		el3_client* cc;
		el3_cpu* cpu;
		if (el3_connect(endpoint.c_str(), &cc, nullptr) != EL3_OK ||
		    el3_cpu_enter(cc, 0, EL3_ENTRY_AUTO, &cpu, nullptr, nullptr) != EL3_OK)
			::_exit(42);
		el3_boot_complete(cpu, result, 0, nullptr, nullptr);
		::_exit(43);
	}
	int st = 0;
	::waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST_P(Client, FailedBootEndsTheProcess)
{
	el3_disconnect(c);  // the child makes its own connection (and, in process, its own lock)
	c = nullptr;
	EXPECT_EQ(boot_fails_in_a_child(endpoint, EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR), 1);
	el3_error err;
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	el3_cpu* cpu;
	// The Realm world is disabled now: no CPU can be entered until a reset.
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_ERR_REFUSED);
	EXPECT_NE(std::string(err.message).find("E_RMM_BOOT_MANIFEST_DATA_ERROR"), std::string::npos) << err.message;
}

// EL3 takes any non-zero x1 as a failed boot, not only the negative E_RMM_BOOT_* codes: a positive
// value ends the process too, and the Realm world is disabled.
TEST_P(Client, PositiveBootResultIsAFailedBootToo)
{
	el3_disconnect(c);
	c = nullptr;
	EXPECT_EQ(boot_fails_in_a_child(endpoint, 1), 1);
	el3_error err;
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	el3_cpu* cpu;
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_ERR_REFUSED) << err.message;
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
	// Occupy the carveout's physical range in our own address space first (under AddressSanitizer it
	// is taken already: EEXIST).
	void* taken = ::mmap(reinterpret_cast<void*>(0xFDC00000), 0x10000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
	                     MAP_FIXED_NOREPLACE, -1, 0);
	if (taken == MAP_FAILED) {
		ASSERT_TRUE(errno == EEXIST && kIdentity == 0) << std::strerror(errno);
	}
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
	if (taken != MAP_FAILED)
		::munmap(taken, 0x10000);
}

}  // namespace

namespace {

// SIGSTOP takes effect asynchronously: wait until the process is really stopped.
bool stop(Daemon& d)
{
	d.signal(SIGSTOP);
	for (int i = 0; i < 500; ++i) {
		const std::string st = read_file("/proc/" + std::to_string(d.pid()) + "/stat");
		const auto paren = st.rfind(')');
		if (paren != std::string::npos && paren + 2 < st.size() && st[paren + 2] == 'T')
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	}
	return false;
}

// Against a daemon only: what happens when it dies, stops, or comes back on another carveout.
class DaemonClient : public ::testing::Test {
protected:
	void SetUp() override
	{
		ASSERT_TRUE(el3d->start()) << el3d->log();
		el3_error err;
		ASSERT_EQ(el3_connect(("unix:" + el3d->socket).c_str(), &c, &err), EL3_OK) << err.message;
	}
	void TearDown() override
	{
		el3d->signal(SIGCONT);
		el3_disconnect(c);
		::unsetenv("EL3D_ENTER_TIMEOUT_MS");
	}

	TempDir dir;
	std::unique_ptr<Daemon> el3d = std::make_unique<Daemon>(dir);
	el3_client* c = nullptr;
};

TEST_F(DaemonClient, ADaemonThatDiesBreaksTheSession)
{
	el3_cpu* a;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	el3d->signal(SIGKILL);
	ASSERT_EQ(el3d->wait(), 128 + SIGKILL);
	el3_regs r;
	// The first failing call already says the session broke (not "cannot reach"), with the FID in hex.
	EXPECT_EQ(el3_smc(a, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_SESSION) << err.message;
	EXPECT_NE(std::string(err.message).find("SMC 0xc40001b4 on cpu 0"), std::string::npos) << err.message;
	EXPECT_EQ(el3_smc(a, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_SESSION) << err.message;
	EXPECT_EQ(monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0), ~0ul);
	el3_cpu_leave(a);
}

TEST_F(DaemonClient, EnteringAStoppedDaemonTimesOut)
{
	::setenv("EL3D_ENTER_TIMEOUT_MS", "banana", 1);
	el3_cpu* a = nullptr;
	el3_error err;
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_ERR_INVALID);
	EXPECT_NE(std::string(err.message).find("EL3D_ENTER_TIMEOUT_MS"), std::string::npos) << err.message;
	::setenv("EL3D_ENTER_TIMEOUT_MS", "400", 1);
	ASSERT_TRUE(stop(*el3d));
	const auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_ERR_CONNECT);
	const auto took = std::chrono::steady_clock::now() - t0;
	EXPECT_NE(std::string(err.message).find("did not answer the session handshake within 400 ms"), std::string::npos)
	    << err.message;
	EXPECT_LT(took, std::chrono::seconds(5));
	EXPECT_EQ(a, nullptr);
	el3d->signal(SIGCONT);
	// Once it runs again, CPU 0 can be entered (the abandoned handshake released it).
	bool entered = false;
	for (int i = 0; i < 100 && !entered; ++i) {
		entered = el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err) == EL3_OK;
		if (!entered)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	EXPECT_TRUE(entered) << err.message;
	el3_cpu_leave(a);
}

TEST_F(DaemonClient, LeavingWakesACallBlockedOnAStoppedDaemon)
{
	::setenv("EL3D_ENTER_TIMEOUT_MS", "400", 1);  // also bounds the close
	el3_cpu* a;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	ASSERT_TRUE(stop(*el3d));
	std::atomic<int> rc{-1};
	std::string msg;
	std::thread t([&] {
		el3_regs r;
		el3_error e;
		rc = el3_smc(a, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &e);  // blocks: EL3 does not answer
		msg = e.message;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	EXPECT_EQ(rc, -1);  // still waiting
	const auto t0 = std::chrono::steady_clock::now();
	el3_cpu_leave(a);
	t.join();
	EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
	EXPECT_EQ(rc, EL3_ERR_SESSION);
	EXPECT_NE(msg.find("closed by el3_cpu_leave() or el3_disconnect()"), std::string::npos) << msg;
}

TEST_F(DaemonClient, ADaemonOnAnotherCarveoutIsRefused)
{
	el3_cpu* a;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	el3_cpu_leave(a);
	// Restarted on the same carveout: the client's mapping is still right.
	el3d->signal(SIGTERM);
	ASSERT_EQ(el3d->wait(), 0);
	el3d = std::make_unique<Daemon>(dir);
	ASSERT_TRUE(el3d->start()) << el3d->log();
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	el3_cpu_leave(a);
	// Restarted on another carveout file (same socket, same platform): refused, and the CPU is free.
	el3d->signal(SIGTERM);
	ASSERT_EQ(el3d->wait(), 0);
	el3d = std::make_unique<Daemon>(dir, std::vector<std::string>{}, "other.img");
	ASSERT_TRUE(el3d->start()) << el3d->log();
	a = nullptr;
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_ERR_MAP);
	EXPECT_EQ(a, nullptr);
	EXPECT_NE(std::string(err.message).find("restarted on another carveout"), std::string::npos) << err.message;
	EXPECT_NE(std::string(err.message).find("other.img"), std::string::npos) << err.message;
	el3_client* fresh;
	ASSERT_EQ(el3_connect(("unix:" + el3d->socket).c_str(), &fresh, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(fresh, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	el3_disconnect(fresh);
	// Another platform on another file: the geometry differs too.
	el3d->signal(SIGTERM);
	ASSERT_EQ(el3d->wait(), 0);
	el3d = std::make_unique<Daemon>(dir, std::vector<std::string>{"--platform", "qemu"}, "qemu.img");
	ASSERT_TRUE(el3d->start()) << el3d->log();
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_ERR_MAP);
}

TEST_F(DaemonClient, SelectedCpuMakesTheCall)
{
	el3_cpu* cpus[2];
	el3_error err;
	for (unsigned n = 0; n < 2; ++n)
		ASSERT_EQ(el3_cpu_enter(c, n, EL3_ENTRY_AUTO, &cpus[n], nullptr, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_tfrmm_select(0, &err), EL3_OK) << err.message;
	smc_args args{};
	args.v[0] = 0x1000;
	args.v[1] = EL3_ALLOC_X2(12, 3);
	smc_result res{};
	monitor_call_with_arg_res(EL3_FID_RMM_ALLOCATE_MEMORY, &args, &res);
	EXPECT_EQ(res.x[0], 1u);
	const auto st = nlohmann::json::parse(el3ctl(el3d->socket, {"status", "--json"}).out);
	ASSERT_EQ(st["regions"].size(), 1u) << st.dump();
	EXPECT_EQ(st["regions"][0]["cpu"], 0) << st.dump();  // not CPU 1, the last one entered
	el3_cpu_leave(cpus[0]);
	el3_cpu_leave(cpus[1]);
}

}  // namespace
