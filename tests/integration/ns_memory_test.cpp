// The NS memory file with the real daemon: reported in State, kept across restarts (SIGTERM and
// SIGKILL), zeroed by Reset, recreated by --reset, chosen with --ns-memory, and a foreign or damaged
// file refused with exit code 2 and left untouched.
#include "harness.hpp"
#include "sparse_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

using namespace el3d::test;

namespace {

void put64(const std::string& path, uint64_t off, uint64_t v)
{
	const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0) << path;
	EXPECT_EQ(::pwrite(fd, &v, sizeof(v), static_cast<off_t>(off)), static_cast<ssize_t>(sizeof(v)));
	::close(fd);
}

uint64_t get64(const std::string& path, uint64_t off)
{
	uint64_t v = ~0ull;
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (::pread(fd, &v, sizeof(v), static_cast<off_t>(off)) != static_cast<ssize_t>(sizeof(v)))
			v = ~0ull;
		::close(fd);
	}
	return v;
}

void stop(Daemon& d, int sig = SIGTERM)
{
	d.signal(sig);
	EXPECT_EQ(d.wait(), sig == SIGTERM ? 0 : 128 + sig);
}

}  // namespace

TEST(NsMemoryDaemon, StateReportsItAndRestartsKeepItsContent)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	const auto s = get_state(*connect(el3d.socket));
	ASSERT_TRUE(s.has_ns_memory());
	const auto& ns = s.ns_memory();
	EXPECT_EQ(ns.path(), d.file("c.img.ns"));
	EXPECT_EQ(ns.id().size(), 32u);
	EXPECT_EQ(ns.carveout_id(), s.carveout_id());
	ASSERT_EQ(ns.windows_size(), 4);
	EXPECT_EQ(ns.windows(0).base(), 0x50000000u);
	EXPECT_EQ(ns.windows(1).base(), 0x80000000u);
	EXPECT_EQ(ns.windows(1).size(), 0x7C000000u);
	EXPECT_EQ(ns.windows(2).base(), 0x880000000u);
	EXPECT_EQ(ns.windows(3).base(), 0x4000000000u);
	EXPECT_LT(disk_usage(ns.path()), 1u << 20) << "created sparse";
	// What a client writes at physical 0x80001000 (through its MAP_SHARED mapping: the same page cache).
	const uint64_t off = ns.windows(1).file_offset() + 0x1000;
	put64(ns.path(), off, 0xc0ffee);
	const auto status = el3ctl(el3d.socket, {"status"});
	EXPECT_NE(status.out.find("NS memory file " + ns.path() + " (4 windows, 7.19 GiB)"), std::string::npos) << status.out;
	const auto j = nlohmann::json::parse(el3ctl(el3d.socket, {"status", "--json"}).out);
	EXPECT_EQ(j["ns_memory"]["path"], ns.path());
	EXPECT_EQ(j["ns_memory"]["windows"].size(), 4u);

	for (int sig : {SIGTERM, SIGKILL}) {
		stop(el3d, sig);
		ASSERT_TRUE(el3d.start()) << el3d.log();
		const auto again = get_state(*connect(el3d.socket)).ns_memory();
		EXPECT_EQ(again.id(), ns.id()) << "the same file, not a new one";
		EXPECT_EQ(get64(ns.path(), off), 0xc0ffeeu) << "after " << sig;
	}
}

TEST(NsMemoryDaemon, ResetZeroesItAndDashDashResetRecreatesIt)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	const auto ns = get_state(*connect(el3d.socket)).ns_memory();
	std::vector<char> mib(1 << 20, 'x');
	const int fd = ::open(ns.path().c_str(), O_WRONLY | O_CLOEXEC);
	for (const auto& w : ns.windows())
		ASSERT_EQ(::pwrite(fd, mib.data(), mib.size(), static_cast<off_t>(w.file_offset())),
		          static_cast<ssize_t>(mib.size()));
	::close(fd);
	ASSERT_GE(disk_usage(ns.path()), 4u << 20);
	const auto r = el3ctl(el3d.socket, {"reset"});
	ASSERT_EQ(r.rc, 0) << r.err;
	for (const auto& w : ns.windows())
		EXPECT_EQ(get64(ns.path(), w.file_offset()), 0u);
	EXPECT_LT(disk_usage(ns.path()), 1u << 20) << "the blocks are given back";
	EXPECT_EQ(get_state(*connect(el3d.socket)).ns_memory().id(), ns.id());
	put64(ns.path(), ns.windows(0).file_offset(), 5);
	stop(el3d);
	el3d.args = {"--reset"};
	ASSERT_TRUE(el3d.start()) << el3d.log();
	const auto fresh = get_state(*connect(el3d.socket));
	EXPECT_NE(fresh.ns_memory().id(), ns.id());
	EXPECT_EQ(fresh.ns_memory().carveout_id(), fresh.carveout_id());
	EXPECT_EQ(get64(ns.path(), ns.windows(0).file_offset()), 0u);
}

TEST(NsMemoryDaemon, NsMemoryOptionChoosesTheFile)
{
	TempDir d;
	Daemon el3d(d, {"--ns-memory", d.file("ns/dram.ns")});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_EQ(get_state(*connect(el3d.socket)).ns_memory().path(), d.file("ns/dram.ns"));
	EXPECT_TRUE(std::filesystem::exists(d.file("ns/dram.ns")));
	EXPECT_FALSE(std::filesystem::exists(d.file("c.img.ns")));
}

TEST(NsMemoryDaemon, ForeignOrDamagedFilesAreRefusedAndLeftUntouched)
{
	TempDir d;
	for (const char* name : {"a.img", "b.img"}) {
		Daemon el3d(d, {}, name);
		ASSERT_TRUE(el3d.start()) << el3d.log();
		stop(el3d);
	}
	const std::string a_ns = d.file("a.img.ns"), b_ns = d.file("b.img.ns");
	put64(a_ns, 0x10000000, 42);  // a's memory, in a's file
	auto refused = [&](const std::string& ns, const std::string& why) {
		const std::string before = sparse_digest(ns);
		Daemon b(d, {"--ns-memory", ns}, "b.img");
		EXPECT_EQ(b.run_to_exit(), 2) << b.log();
		EXPECT_NE(b.log().find(why), std::string::npos) << b.log();
		EXPECT_NE(b.log().find("refusing to touch it"), std::string::npos) << b.log();
		EXPECT_EQ(sparse_digest(ns), before) << ns << " was modified";
	};
	refused(a_ns, "belongs to another carveout file");
	EXPECT_EQ(get64(a_ns, 0x10000000), 42u);
	const uint8_t flip = 'X';
	const int fd = ::open(b_ns.c_str(), O_WRONLY | O_CLOEXEC);
	ASSERT_EQ(::pwrite(fd, &flip, 1, 48), 1);  // the platform name, under the header's CRC
	::close(fd);
	refused(b_ns, "corrupt header");
	write_file(d.file("junk"), "not an NS memory file");
	refused(d.file("junk"), "not an el3d Non-secure memory file");
	// --reset recreates b's own file (and the carveout with it).
	Daemon b(d, {"--reset"}, "b.img");
	ASSERT_TRUE(b.start()) << b.log();
	EXPECT_EQ(get_state(*connect(b.socket)).ns_memory().path(), b_ns);
}
