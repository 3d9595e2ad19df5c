// The daemon's life cycle: start, refusals, signals, socket ownership.
#include "harness.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>

using namespace el3d::test;
using namespace std::chrono_literals;

namespace {
bool exists(const std::string& p)
{
	struct stat st {};
	return ::lstat(p.c_str(), &st) == 0;
}
}  // namespace

TEST(Daemon, ServesWithPrivateSocketAndStopsCleanlyOnSigterm)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	struct stat st {};
	ASSERT_EQ(::stat(el3d.socket.c_str(), &st), 0);
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	auto state = get_state(*connect(el3d.socket));
	EXPECT_EQ(state.platform(), "fvp");
	EXPECT_EQ(state.rmm_base(), 0xFDC00000u);

	const auto t0 = std::chrono::steady_clock::now();
	el3d.signal(SIGTERM);
	EXPECT_EQ(el3d.wait(5s), 0) << el3d.log();
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
	EXPECT_FALSE(exists(el3d.socket));
	EXPECT_FALSE(exists(el3d.socket + ".lock"));
	EXPECT_NE(el3d.log().find("stopped"), std::string::npos);
}

TEST(Daemon, SigintAlsoStopsCleanly)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	el3d.signal(SIGINT);
	EXPECT_EQ(el3d.wait(5s), 0);
	EXPECT_FALSE(exists(el3d.socket));
}

TEST(Daemon, SecondDaemonOnTheSameFileIsRefused)
{
	TempDir d;
	Daemon first(d);
	ASSERT_TRUE(first.start()) << first.log();
	Daemon second(d);
	second.socket = d.file("other.sock");
	EXPECT_EQ(second.run_to_exit(), 2);
	EXPECT_NE(second.log().find("in use by another process (pid " + std::to_string(first.pid()) + ")"),
	          std::string::npos)
	    << second.log();
	// The first one is unaffected.
	EXPECT_EQ(get_state(*connect(first.socket)).daemon_pid(), static_cast<uint32_t>(first.pid()));
}

TEST(Daemon, SecondDaemonOnTheSameSocketIsRefused)
{
	TempDir d;
	Daemon first(d);
	ASSERT_TRUE(first.start()) << first.log();
	Daemon second(d, {}, "other.img");
	EXPECT_EQ(second.run_to_exit(), 2);
	EXPECT_NE(second.log().find("another el3d (pid " + std::to_string(first.pid()) + ") is serving"),
	          std::string::npos)
	    << second.log();
	EXPECT_FALSE(exists(d.file("other.img")));  // refused before touching anything
	EXPECT_EQ(get_state(*connect(first.socket)).daemon_pid(), static_cast<uint32_t>(first.pid()));
}

TEST(Daemon, StaleSocketOfAKilledDaemonIsTakenOver)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	el3d.signal(SIGKILL);
	EXPECT_EQ(el3d.wait(), 128 + SIGKILL);
	EXPECT_TRUE(exists(el3d.socket));  // left behind
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_EQ(get_state(*connect(el3d.socket)).daemon_pid(), static_cast<uint32_t>(el3d.pid()));
}

TEST(Daemon, NonSocketAtTheSocketPathIsNotReplaced)
{
	TempDir d;
	write_file(d.file("el3d.sock"), "precious");
	Daemon el3d(d);
	EXPECT_EQ(el3d.run_to_exit(), 3);
	EXPECT_EQ(read_file(d.file("el3d.sock")), "precious");
	EXPECT_NE(el3d.log().find("is not a socket"), std::string::npos) << el3d.log();
}

TEST(Daemon, GarbageFileIsRefusedAndLeftUnchanged)
{
	TempDir d;
	std::string garbage(3 << 20, '\0');
	for (std::size_t i = 0; i < garbage.size(); ++i)
		garbage[i] = static_cast<char>((i * 2654435761u) >> 13);
	write_file(d.file("c.img"), garbage);
	Daemon el3d(d);
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_TRUE(read_file(d.file("c.img")) == garbage) << "the refused file was modified";
	EXPECT_NE(el3d.log().find("not an el3d carveout file"), std::string::npos) << el3d.log();
	EXPECT_FALSE(exists(el3d.socket));
}

TEST(Daemon, OtherGeometryIsRefusedAndLeftUnchanged)
{
	TempDir d;
	{
		Daemon el3d(d);
		ASSERT_TRUE(el3d.start()) << el3d.log();
		el3d.signal(SIGTERM);
		ASSERT_EQ(el3d.wait(), 0);
	}
	const std::string before = read_file(d.file("c.img"));
	Daemon qemu(d, {"--platform", "qemu"});
	EXPECT_EQ(qemu.run_to_exit(), 2);
	EXPECT_NE(qemu.log().find("platform: file has fvp, asked for qemu"), std::string::npos) << qemu.log();
	Daemon slots(d, {"--region-slots", "8"});
	EXPECT_EQ(slots.run_to_exit(), 2);
	EXPECT_TRUE(read_file(d.file("c.img")) == before);
	// Without options the file's own geometry is used; --reset recreates it for another platform.
	Daemon reset(d, {"--platform", "qemu", "--reset"});
	ASSERT_TRUE(reset.start()) << reset.log();
	EXPECT_EQ(get_state(*connect(reset.socket)).platform(), "qemu");
}

TEST(Daemon, BadOptionsExitWithUsageError)
{
	TempDir d;
	EXPECT_EQ(Daemon(d, {"--platform", "juno"}).run_to_exit(), 1);
	EXPECT_EQ(Daemon(d, {"--region-slots", "70000"}).run_to_exit(), 1);
	EXPECT_EQ(Daemon(d, {"--payload-size", "lots"}).run_to_exit(), 1);
	Daemon geom(d, {"--payload-size", "0x4000000"});  // larger than the carveout
	EXPECT_EQ(geom.run_to_exit(), 3);
	EXPECT_NE(geom.log().find("leaves no room"), std::string::npos) << geom.log();
	EXPECT_FALSE(exists(d.file("c.img")));
}

TEST(Daemon, QemuSbsaGeometryStartsSparse)
{
	TempDir d;
	Daemon el3d(d, {"--platform", "qemu-sbsa"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto s = get_state(*connect(el3d.socket));
	EXPECT_EQ(s.rmm_base(), 0x10000000000u);
	EXPECT_EQ(s.core_count(), 512u);
	struct stat st {};
	ASSERT_EQ(::stat(el3d.carveout.c_str(), &st), 0);
	EXPECT_GT(static_cast<uint64_t>(st.st_size), 1ull << 30);
	EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 16ull << 20);
}
