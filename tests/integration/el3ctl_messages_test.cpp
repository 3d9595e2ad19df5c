// el3ctl's messages for mistakes a user makes: each names what was wrong and what to do, in words of
// el3d and el3ctl, not of CLI11 or gRPC.
#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace el3d::test;

namespace {
bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }
}  // namespace

class El3ctlMessages : public ::testing::Test {
protected:
	void SetUp() override { ASSERT_TRUE(el3d.start()) << el3d.log(); }
	ProcResult ctl(const std::vector<std::string>& args) { return el3ctl(el3d.socket, args); }
	TempDir d;
	Daemon el3d{d};
};

TEST_F(El3ctlMessages, UnknownCommandIsNamedWithTheCommands)
{
	auto r = ctl({"bogus"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_TRUE(has(r.err, "'bogus' is not a command")) << r.err;
	EXPECT_TRUE(has(r.err, " status ") && has(r.err, " fids ")) << r.err;
	EXPECT_FALSE(has(r.err, "A subcommand is required")) << r.err;
}

TEST_F(El3ctlMessages, TimeoutRangeIsSaidInWords)
{
	auto r = ctl({"--timeout", "0", "status"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_TRUE(has(r.err, "above 0")) << r.err;
	EXPECT_LT(r.err.size(), 200u) << r.err;  // not a 300-digit range
}

TEST_F(El3ctlMessages, HexMistakesAreNamed)
{
	auto zz = ctl({"mem", "write", "0xffbff000", "zz"});
	EXPECT_EQ(zz.rc, 1);
	EXPECT_TRUE(has(zz.err, "'z' at position 1 is not a hex digit")) << zz.err;
	auto odd = ctl({"mem", "write", "0xffbff000", "abc"});
	EXPECT_EQ(odd.rc, 1);
	EXPECT_TRUE(has(odd.err, "3 hex digits")) << odd.err;
	for (const char* help : {"ADDR", "LEN"}) {
		auto h = ctl({"mem", "read", "--help"});
		EXPECT_TRUE(has(h.out, help)) << h.out;
		EXPECT_TRUE(has(h.out, "physical address") && has(h.out, "bytes to read")) << h.out;
	}
	EXPECT_TRUE(has(ctl({"mem", "write", "--help"}).out, "two hex digits each")) << "HEX has help";
}

TEST_F(El3ctlMessages, ReadLargerThanOneCallNamesTheRangeAskedFor)
{
	auto r = ctl({"mem", "read", "0xffbfd000", "5M"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_TRUE(has(r.err, "[0xffbfd000, +0x500000)")) << r.err;
}

TEST_F(El3ctlMessages, StaleSocketIsExplained)
{
	const std::string path = d.file("stale.sock");
	int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
	ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
	::close(fd);  // bound, never listened on: what an el3d killed with -9 leaves behind
	auto r = el3ctl(path, {"status"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_TRUE(has(r.err, "nothing listens on it")) << r.err;
	EXPECT_FALSE(has(r.err, "failed to connect to all addresses")) << r.err;
}

TEST_F(El3ctlMessages, FidsListsTheProfileTable)
{
	auto seed = ctl({"fids"});  // the daemon's profile: seed
	ASSERT_EQ(seed.rc, 0) << seed.err;
	EXPECT_TRUE(has(seed.out, "seed ABI (interface 0.6)")) << seed.out;
	EXPECT_TRUE(has(seed.out, "0xc40001b7  RMM_ALLOCATE_MEMORY")) << seed.out;
	EXPECT_FALSE(has(seed.out, "RMM_RESERVE_MEMORY")) << seed.out;
	auto tfa = ctl({"fids", "--abi", "tfa", "--json"});
	ASSERT_EQ(tfa.rc, 0) << tfa.err;
	auto j = nlohmann::json::parse(tfa.out);
	EXPECT_EQ(j["interface_version"], 0x20000u);
	bool reserve = false, allocate = false;
	for (const auto& e : j["fids"]) {
		reserve = reserve || e["name"] == "RMM_RESERVE_MEMORY";
		allocate = allocate || e["name"] == "RMM_ALLOCATE_MEMORY";
	}
	EXPECT_TRUE(reserve);
	EXPECT_FALSE(allocate);
	EXPECT_EQ(ctl({"fids", "--abi", "nope"}).rc, 1);
}

TEST_F(El3ctlMessages, ReasonsUseHexAndUnitsForHugeSizes)
{
	auto r = ctl({"alloc", "--size", "0xFFFFFFFFFFFFFFF0"});
	EXPECT_EQ(r.rc, 3);
	EXPECT_TRUE(has(r.err, "0xfffffffffffffff0 bytes")) << r.err;
	EXPECT_FALSE(has(r.err, "18446744073709551600")) << r.err;
	auto bad = ctl({"smc", "RMM_GTSI_DELEGATE", "0x80000001"});
	EXPECT_TRUE(has(bad.err, "not 4 KiB aligned")) << bad.err;
}

TEST_F(El3ctlMessages, DaemonLogLevelsLineUp)
{
	ctl({"alloc", "--size", "0xFFFFFFFFFFFFFFF0"});  // an info line
	ctl({"smc", "0xC40001BF"});                       // an unknown FID: a warning line
	std::string info, warn;
	std::istringstream log(el3d.log());
	for (std::string l; std::getline(log, l);) {
		if (info.empty() && has(l, " info "))
			info = l;
		if (warn.empty() && has(l, " warning "))
			warn = l;
	}
	ASSERT_FALSE(info.empty() || warn.empty()) << el3d.log();
	// The message starts in the same column whatever the level: date (10) time (12) level (7), a space each.
	EXPECT_EQ(info.substr(24, 8), "info    ") << info;
	EXPECT_NE(info[32], ' ') << info;
	EXPECT_NE(warn[32], ' ') << warn;
}
