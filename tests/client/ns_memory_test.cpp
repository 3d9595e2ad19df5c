// el3client's Non-secure memory: the windows of el3d's NS memory file at PA == VA, shared between
// processes and with the in-process core, aliases, and the handshake check.
#include "el3d/el3_client.h"
#include "endpoint_fixture.hpp"
#include "process.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

using namespace el3d::test;

namespace {
#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer's shadow memory holds most of these physical ranges on x86-64 (docs/client.md):
// el3client falls back to offset mappings there.
constexpr int kIdentity = 0;
#else
constexpr int kIdentity = 1;
#endif

constexpr uint64_t kDram0 = 0x80000000;     // FVP DRAM bank 0: an NS window
constexpr uint64_t kPcie1 = 0x4000000000;   // FVP's second PCIe window

// A physical address as a pointer in this process: the address itself when identity mapped.
volatile uint64_t* at(el3_client* c, uint64_t pa)
{
	return static_cast<volatile uint64_t*>(kIdentity ? reinterpret_cast<void*>(static_cast<uintptr_t>(pa))
	                                                 : el3_pa_to_va(c, pa));
}

// Another process (this test program run again, fresh: no mapping inherited through fork) connects
// to `endpoint`, checks that physical `pa` holds `expect` at VA == PA and stores `store` there
// (NsMemoryChild.ReadsAndWrites). Its exit status: 0 when it did.
int child_reads_and_writes(const std::string& endpoint, uint64_t pa, uint64_t expect, uint64_t store)
{
	char spec[64];
	std::snprintf(spec, sizeof(spec), "%llx %llx %llx", static_cast<unsigned long long>(pa),
	              static_cast<unsigned long long>(expect), static_cast<unsigned long long>(store));
	const pid_t pid = ::fork();
	if (pid == 0) {
		::setenv("EL3D_NS_CHILD", spec, 1);
		::setenv("EL3D_NS_CHILD_ENDPOINT", endpoint.c_str(), 1);
		::execl("/proc/self/exe", "el3client_tests", "--gtest_filter=NsMemoryChild.ReadsAndWrites", nullptr);
		::_exit(127);
	}
	int st = 0;
	::waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class NsMemory : public el3d::test::EndpointTest {};

TEST_P(NsMemory, WindowsAreMappedAtTheirPhysicalAddresses)
{
	ASSERT_EQ(el3_ns_window_count(c), 4u);
	const uint64_t bases[4] = {0x50000000, kDram0, 0x880000000, kPcie1};
	const uint64_t sizes[4] = {0x10000000, 0x7C000000, 0x80000000, 0xC0000000};
	for (unsigned i = 0; i < 4; ++i) {
		el3_ns_window w;
		el3_error err;
		ASSERT_EQ(el3_ns_window_get(c, i, &w, &err), EL3_OK) << err.message;
		EXPECT_EQ(w.base, bases[i]);
		EXPECT_EQ(w.size, sizes[i]);
		ASSERT_NE(w.va, nullptr);
		if (kIdentity) {
			EXPECT_EQ(w.va, reinterpret_cast<void*>(static_cast<uintptr_t>(w.base)));
		}
		// el3_pa_to_va / el3_va_to_pa cover every window, to its last byte.
		EXPECT_EQ(el3_pa_to_va(c, w.base), w.va);
		EXPECT_EQ(el3_pa_to_va(c, w.base + w.size - 1), static_cast<char*>(w.va) + w.size - 1);
		EXPECT_EQ(el3_va_to_pa(c, static_cast<char*>(w.va) + 0x1234), w.base + 0x1234);
		EXPECT_EQ(el3_pa_to_va(c, w.base + w.size), nullptr);  // no window or carveout right above any of them
	}
	EXPECT_EQ(el3_identity_mapped(c), kIdentity);
	EXPECT_EQ(el3_pa_to_va(c, 0x60000000), nullptr);  // between the PCIe window and DRAM
	EXPECT_EQ(el3_pa_to_va(c, 0xFC000000), nullptr);  // FVP's Secure TZC DRAM: not Non-secure
	el3_ns_window w;
	el3_error err;
	EXPECT_EQ(el3_ns_window_get(c, 4, &w, &err), EL3_ERR_INVALID);
	EXPECT_EQ(el3_ns_window_get(c, 0, nullptr, &err), EL3_ERR_INVALID);
	EXPECT_EQ(el3_ns_window_count(nullptr), 0u);
	// Memory: starts as zero, takes stores at both ends of the largest window.
	EXPECT_EQ(*at(c, kPcie1), 0u);
	*at(c, kPcie1) = 1;
	*at(c, kPcie1 + 0xC0000000 - 8) = 2;
	EXPECT_EQ(*at(c, kPcie1 + 0xC0000000 - 8), 2u);
}

TEST_P(NsMemory, AnotherProcessSeesTheSameBytesAtTheSamePhysicalAddress)
{
	const uint64_t pa = kDram0 + 0x123000;
	*at(c, pa) = 0x1111111111111111;
	if (!inproc()) {
		// Two el3client processes on one daemon, at the same time.
		EXPECT_EQ(child_reads_and_writes(endpoint, pa, 0x1111111111111111, 0x2222222222222222), 0);
		EXPECT_EQ(*at(c, pa), 0x2222222222222222u);
		return;
	}
	// In process and through a daemon: the same file. The in-process core holds the carveout's lock,
	// so the daemon starts once this process has let go of it.
	el3_disconnect(c);
	c = nullptr;
	Daemon d(dir);
	ASSERT_TRUE(d.start()) << d.log();
	EXPECT_EQ(child_reads_and_writes("unix:" + d.socket, pa, 0x1111111111111111, 0x3333333333333333), 0);
	d.signal(SIGTERM);
	ASSERT_EQ(d.wait(), 0);
	el3_error err;
	ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	EXPECT_EQ(*at(c, pa), 0x3333333333333333u);
}

TEST_P(NsMemory, AnAliasSeesTheSamePages)
{
	const long page = ::sysconf(_SC_PAGESIZE);
	// Where TF-RMM's host build keeps its slot buffers: a reserved range of its own.
	void* slots = ::mmap(nullptr, 4 * static_cast<size_t>(page), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(slots, MAP_FAILED);
	auto* slot0 = static_cast<volatile uint64_t*>(slots);
	auto* slot1 = reinterpret_cast<volatile uint64_t*>(static_cast<char*>(slots) + page);
	el3_error err;
	const uint64_t granule = kDram0 + 0x5000;
	ASSERT_EQ(el3_map_alias(c, granule, static_cast<size_t>(page), slots, &err), EL3_OK) << err.message;
	*at(c, granule + 16) = 0xabcdef;
	EXPECT_EQ(slot0[2], 0xabcdefu);
	slot0[3] = 0x777;
	EXPECT_EQ(*at(c, granule + 24), 0x777u);
	// The carveout too (here its first page).
	el3_info info;
	ASSERT_EQ(el3_get_info(c, &info, &err), EL3_OK);
	ASSERT_EQ(el3_map_alias(c, info.rmm_base, static_cast<size_t>(page), static_cast<char*>(slots) + page, &err), EL3_OK)
	    << err.message;
	*static_cast<volatile uint64_t*>(el3_pa_to_va(c, info.rmm_base)) = 0x5a5a;
	EXPECT_EQ(slot1[0], 0x5a5au);
	// Re-pointing a slot at another granule, as host_util_slot_map() does.
	ASSERT_EQ(el3_map_alias(c, granule + static_cast<uint64_t>(page), static_cast<size_t>(page), slots, &err), EL3_OK);
	EXPECT_EQ(slot0[2], 0u);

	const auto pg = static_cast<uint64_t>(page);
	EXPECT_EQ(el3_map_alias(c, granule + 8, pg, slots, &err), EL3_ERR_INVALID);        // unaligned pa
	EXPECT_EQ(el3_map_alias(c, granule, pg + 8, slots, &err), EL3_ERR_INVALID);        // unaligned length
	EXPECT_EQ(el3_map_alias(c, granule, pg, static_cast<char*>(slots) + 8, &err), EL3_ERR_INVALID);
	EXPECT_EQ(el3_map_alias(c, granule, 0, slots, &err), EL3_ERR_INVALID);
	EXPECT_EQ(el3_map_alias(c, granule, pg, nullptr, &err), EL3_ERR_INVALID);
	EXPECT_EQ(el3_map_alias(c, 0x60000000, pg, slots, &err), EL3_ERR_INVALID);          // no memory there
	EXPECT_NE(std::string(err.message).find("not inside the carveout or one Non-secure memory window"), std::string::npos)
	    << err.message;
	EXPECT_EQ(el3_map_alias(c, 0x60000000 - pg, 2 * pg, slots, &err), EL3_ERR_INVALID);  // past a window's end
	// Over el3client's own mapping of physical memory: refused, the identity mapping stays.
	EXPECT_EQ(el3_map_alias(c, granule, pg, el3_pa_to_va(c, kPcie1), &err), EL3_ERR_INVALID);
	EXPECT_NE(std::string(err.message).find("overlaps el3client's own mapping"), std::string::npos) << err.message;
	EXPECT_EQ(el3_map_alias(nullptr, granule, pg, slots, &err), EL3_ERR_INVALID);
	// The alias is the caller's: it outlives the client.
	*at(c, granule + static_cast<uint64_t>(page)) = 0x99;
	el3_disconnect(c);
	c = nullptr;
	EXPECT_EQ(slot0[0], 0x99u);
	::munmap(slots, 4 * static_cast<size_t>(page));
}

INSTANTIATE_TEST_SUITE_P(Endpoints, NsMemory, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "inproc" : "daemon"; });

// The other process of child_reads_and_writes(); skipped when run as a test of its own.
TEST(NsMemoryChild, ReadsAndWrites)
{
	const char* spec = std::getenv("EL3D_NS_CHILD");
	if (spec == nullptr)
		GTEST_SKIP() << "run by child_reads_and_writes() only";
	unsigned long long pa = 0, expect = 0, store = 0;
	ASSERT_EQ(std::sscanf(spec, "%llx %llx %llx", &pa, &expect, &store), 3);
	el3_client* c;
	el3_error err;
	ASSERT_EQ(el3_connect(std::getenv("EL3D_NS_CHILD_ENDPOINT"), &c, &err), EL3_OK) << err.message;
	EXPECT_EQ(el3_identity_mapped(c), kIdentity);
	volatile uint64_t* p = at(c, pa);
	ASSERT_NE(p, nullptr);
	EXPECT_EQ(*p, expect);
	*p = store;
	el3_disconnect(c);
}

TEST(NsMemoryHandshake, ADaemonOnAnotherNsMemoryFileIsRefused)
{
	TempDir dir;
	auto el3d = std::make_unique<Daemon>(dir);
	ASSERT_TRUE(el3d->start()) << el3d->log();
	el3_client* c;
	el3_error err;
	ASSERT_EQ(el3_connect(("unix:" + el3d->socket).c_str(), &c, &err), EL3_OK) << err.message;
	// The same carveout, another NS memory file: this client's NS mapping would be stale.
	el3d->signal(SIGTERM);
	ASSERT_EQ(el3d->wait(), 0);
	el3d = std::make_unique<Daemon>(dir, std::vector<std::string>{"--ns-memory", dir.file("other.ns")});
	ASSERT_TRUE(el3d->start()) << el3d->log();
	el3_cpu* a = nullptr;
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_ERR_MAP);
	EXPECT_EQ(a, nullptr);
	EXPECT_NE(std::string(err.message).find("restarted on another NS memory file"), std::string::npos) << err.message;
	EXPECT_NE(std::string(err.message).find("other.ns"), std::string::npos) << err.message;
	el3_disconnect(c);
	// A new client maps the new file and enters.
	ASSERT_EQ(el3_connect(("unix:" + el3d->socket).c_str(), &c, &err), EL3_OK) << err.message;
	ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &a, nullptr, &err), EL3_OK) << err.message;
	el3_cpu_leave(a);
	el3_disconnect(c);
}

}  // namespace
