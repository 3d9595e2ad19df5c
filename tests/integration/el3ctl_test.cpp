// el3ctl against a real daemon: output formats and exit codes that scripts rely on.
#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <regex>

using namespace el3d::test;

class El3ctl : public ::testing::Test {
protected:
	void SetUp() override { ASSERT_TRUE(el3d.start()) << el3d.log(); }
	ProcResult ctl(const std::vector<std::string>& args) { return el3ctl(el3d.socket, args); }
	TempDir d;
	Daemon el3d{d};
};

TEST_F(El3ctl, SmcPrintsExactlyOneRegisterLine)
{
	// By default x0 is followed by its name; FIDs by name or number.
	auto named = ctl({"smc", "RMM_ALLOCATE_MEMORY", "0x1000", "0x0c000002"});
	ASSERT_EQ(named.rc, 0) << named.err;
	EXPECT_EQ(named.out.substr(0, 32), "x0=0x0000000000000001 (FRESH(1))") << named.out;
	EXPECT_NE(ctl({"smc", "rmm_gtsi_delegate", "0x80000000"}).out.find("(E_RMM_OK)"), std::string::npos);
	auto bogus = ctl({"smc", "RMM_NO_SUCH_CALL"});
	EXPECT_EQ(bogus.rc, 1);
	EXPECT_NE(bogus.err.find("neither a number nor a FID name"), std::string::npos) << bogus.err;
	// --raw: the registers alone, for scripts.
	auto r = ctl({"smc", "--raw", "0xC40001B7", "0x1000", "0x0c000000"});
	ASSERT_EQ(r.rc, 0) << r.err;
	const std::regex line("x0=0x[0-9a-f]{16}( x[1-7]=0x[0-9a-f]{16}){7}\n");
	EXPECT_TRUE(std::regex_match(r.out, line)) << r.out;
	EXPECT_EQ(r.out.substr(0, 21), "x0=0x0000000000000001");
	EXPECT_EQ(r.out.substr(22, 21), "x1=0x00000000ffbfd000");  // below id 2's 4 KiB
	EXPECT_EQ(r.out.substr(44, 21), "x2=0x000000000c000000");  // undefined outputs keep the caller's value
}

TEST_F(El3ctl, SmcExitsZeroWhateverX0Says)
{
	auto unk = ctl({"smc", "0xC40001BF"});
	EXPECT_EQ(unk.rc, 0);
	EXPECT_EQ(unk.out.substr(0, 21), "x0=0xffffffffffffffff");
	auto inval = ctl({"smc", "--cpu", "3", "0xC40001B7", "16", "0x00000009"});  // id 9 >= 4 slots
	EXPECT_EQ(inval.rc, 0);
	EXPECT_EQ(inval.out.substr(0, 36), "x0=0xfffffffffffffffb (E_RMM_INVAL) ");
	auto neg = ctl({"smc", "0xC40001B7", "-1", "0"});  // size 2^64-1: NOMEM, no wrap-around
	EXPECT_EQ(neg.out.substr(0, 21), "x0=0xfffffffffffffffc");
}

TEST_F(El3ctl, SmcThatCannotBeMadeFailsOnStderr)
{
	auto cpu = ctl({"smc", "--cpu", "8", "0xC40001B7"});  // FVP has 8 CPUs: 0..7
	EXPECT_NE(cpu.rc, 0);
	EXPECT_TRUE(cpu.out.empty());
	EXPECT_NE(cpu.err.find("cpu 8 is not a CPU"), std::string::npos) << cpu.err;
	auto many = ctl({"smc", "1", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"});
	EXPECT_EQ(many.rc, 1);
	EXPECT_EQ(ctl({"smc", "0xZZ"}).rc, 1);
	auto down = el3ctl(d.file("nobody.sock"), {"smc", "0xC40001B7"});
	EXPECT_EQ(down.rc, 2);
	EXPECT_TRUE(down.out.empty());
	EXPECT_NE(down.err.find("no el3d socket at"), std::string::npos) << down.err;
}

TEST_F(El3ctl, AllocReportsAddressAndErrors)
{
	auto a = ctl({"alloc", "--size", "4K", "--align-bits", "12", "--id", "3"});
	EXPECT_EQ(a.rc, 0);
	EXPECT_EQ(a.out, "addr=0x00000000ffbfe000 size=0x1000 id=3 fresh\n");
	auto big = ctl({"alloc", "--size", "1G"});
	EXPECT_EQ(big.rc, 3);
	EXPECT_NE(big.err.find("E_RMM_NOMEM"), std::string::npos);
	EXPECT_EQ(ctl({"alloc", "--size", "16", "--id", "4"}).rc, 3);  // E_RMM_INVAL
	EXPECT_EQ(ctl({"alloc", "--size", "16", "--id", "70000"}).rc, 1);
	// The reason travels with the error, not only to el3d's log.
	auto again = ctl({"alloc", "--size", "8K", "--id", "3"});
	EXPECT_EQ(again.rc, 3);
	EXPECT_NE(again.err.find("region 3 exists with 4096 bytes; 8192 requested"), std::string::npos) << again.err;
}

TEST_F(El3ctl, SmcErrorsCarryEl3dsReasonOnStderr)
{
	EXPECT_EQ(ctl({"smc", "0xC40001B0", "0x80000000"}).err, "");  // a success says nothing more
	auto twice = ctl({"smc", "0xC40001B0", "0x80000000"});
	EXPECT_EQ(twice.rc, 0);
	EXPECT_NE(twice.out.find("x0=0xfffffffffffffffd"), std::string::npos) << twice.out;
	EXPECT_NE(twice.err.find("E_RMM_BAD_PAS: el3d says: "), std::string::npos) << twice.err;
	EXPECT_NE(twice.err.find("the granule is realm"), std::string::npos) << twice.err;
}

TEST_F(El3ctl, MemReadWriteAndBounds)
{
	EXPECT_EQ(ctl({"mem", "write", "0xffbff000", "00ff10AB"}).rc, 0);
	EXPECT_EQ(ctl({"mem", "read", "0xffbff000", "4"}).out, "00ff10ab\n");
	auto dump = ctl({"mem", "read", "0xffbff000", "4", "--dump"});
	EXPECT_NE(dump.out.find("00000000ffbff000  00 ff 10 ab"), std::string::npos) << dump.out;
	auto oob = ctl({"mem", "read", "0xffc00000", "1"});  // one past the shared page
	EXPECT_EQ(oob.rc, 1);
	EXPECT_NE(oob.err.find("not inside the carveout image"), std::string::npos) << oob.err;
	EXPECT_EQ(ctl({"mem", "write", "0xfdbff000", "00"}).rc, 1);
	EXPECT_EQ(ctl({"mem", "write", "0xffbff000", "abc"}).rc, 1);
	// A read larger than one call is split transparently.
	auto big = ctl({"mem", "read", "0xfe000000", "0x500000"});
	EXPECT_EQ(big.rc, 0);
	EXPECT_EQ(big.out.size(), 2u * 0x500000 + 1);
}

TEST_F(El3ctl, StatusJsonHasTheMap)
{
	ctl({"alloc", "--size", "0x2000", "--align-bits", "12", "--id", "1"});
	ctl({"alloc", "--size", "0x100"});
	ctl({"smc", "--cpu", "2", "0xC40001CF", "0"});
	auto r = ctl({"status", "--json"});
	ASSERT_EQ(r.rc, 0) << r.err;
	auto j = nlohmann::json::parse(r.out);
	EXPECT_EQ(j["platform"], "fvp");
	for (const char* k : {"rmm_base", "rmm_limit", "payload_limit", "top"})
		EXPECT_TRUE(j[k].is_number_unsigned()) << k;
	EXPECT_EQ(j["rmm_base"], 0xFDC00000u);
	EXPECT_EQ(j["rmm_limit"], 0xFFBFF000u);
	EXPECT_EQ(j["payload_limit"], 0xFE400000u);
	ASSERT_EQ(j["regions"].size(), 2u);
	EXPECT_EQ(j["regions"][0]["id"], 1);
	EXPECT_EQ(j["regions"][0]["addr"], 0xFFBFD000u);
	EXPECT_EQ(j["regions"][0]["size"], 0x2000u);
	EXPECT_EQ(j["regions"][1]["id"], 0);
	EXPECT_EQ(j["top"], j["regions"][1]["addr"]);
	EXPECT_EQ(j["cpus"][1]["state"], "booted");
	EXPECT_EQ(j["cpus"][1]["cpu"], 2);
}

TEST_F(El3ctl, StatusTextDrawsTheCarveout)
{
	ctl({"alloc", "--size", "0x2000", "--align-bits", "12", "--id", "1"});
	auto r = ctl({"status"});
	ASSERT_EQ(r.rc, 0) << r.err;
	for (const char* s : {"platform fvp", "shared page", "-- RMM_LIMIT", "0x00000000ffbfd000       8 KiB  region id 1",
	                      "-- top", "free", "-- RMM_PAYLOAD_LIMIT", "RMM payload", "-- RMM_BASE", "[PPPP", "#S]"})
		EXPECT_NE(r.out.find(s), std::string::npos) << "missing '" << s << "' in\n" << r.out;
}

TEST_F(El3ctl, SocketFromEnvironment)
{
	auto r = run({EL3CTL_BINARY, "status", "--json"}, {"EL3D_SOCKET=" + el3d.socket});
	EXPECT_EQ(r.rc, 0) << r.err;
	auto w = run({EL3CTL_BINARY, "wait", "--timeout", "5"}, {"EL3D_SOCKET=" + el3d.socket});
	EXPECT_EQ(w.rc, 0);
}

TEST_F(El3ctl, ManifestTellsTheManifestFromWhatTheRmmWroteOverIt)
{
	ASSERT_EQ(ctl({"boot"}).rc, 0);
	auto fresh = ctl({"manifest"});
	EXPECT_EQ(fresh.rc, 0) << fresh.out << fresh.err;
	EXPECT_NE(fresh.out.find("Boot Manifest at 0x00000000ffbff000"), std::string::npos) << fresh.out;
	EXPECT_EQ(fresh.out.find("no longer holds"), std::string::npos) << fresh.out;
	// The RMM reuses the page after its boot, e.g. for the platform token (a COSE_Sign1 message).
	ASSERT_EQ(ctl({"mem", "write", "0xffbff000", "d28443a10138"}).rc, 0);
	auto reused = ctl({"manifest"});
	EXPECT_EQ(reused.rc, 0) << reused.out << reused.err;
	EXPECT_NE(reused.out.find("no longer holds the Boot Manifest"), std::string::npos) << reused.out;
	EXPECT_NE(reused.out.find("COSE_Sign1"), std::string::npos) << reused.out;
	EXPECT_NE(reused.out.find("valid: an RMM accepts this manifest"), std::string::npos) << reused.out;
	EXPECT_NE(reused.out.find("DRAM: 2 banks"), std::string::npos) << reused.out;
	auto j = nlohmann::json::parse(ctl({"manifest", "--json"}).out);
	EXPECT_EQ(j["page"], "reused");
	EXPECT_EQ(j["valid"], true);
}

TEST(DaemonLog, EverySmcIsLoggedAtDebug)
{
	TempDir d;
	Daemon el3d{d, {"--abi", "tfa"}};  // the harness starts el3d at --log-level debug
	ASSERT_TRUE(el3d.start()) << el3d.log();
	ASSERT_EQ(el3ctl(el3d.socket, {"boot"}).rc, 0);
	const std::vector<std::vector<std::string>> smcs = {
	    {"smc", "0xC40001B0", "0x80000000"},            // RMM_GTSI_DELEGATE
	    {"smc", "0xC40001B0", "0x80000000"},            // again: E_RMM_BAD_PAS
	    {"smc", "0xC4000400", "0"},                     // FIRME_BASE_VERSION
	    {"smc", "0x80000001", "0xC0000003"},            // SMCCC_ARCH_FEATURES
	    {"smc", "0xC40001B4", "0"},                     // RMM_EL3_FEATURES
	    {"smc", "0xC40001BB", "0x1000", "0x0c00000000000000"},  // RMM_RESERVE_MEMORY
	};
	for (const auto& s : smcs)
		ASSERT_EQ(el3ctl(el3d.socket, s).rc, 0);
	const std::string log = el3d.log();
	std::size_t lines = 0;
	for (std::size_t p = log.find("debug   cpu0 smc "); p != std::string::npos; p = log.find("debug   cpu0 smc ", p + 1))
		++lines;
	EXPECT_EQ(lines, smcs.size()) << log;
	EXPECT_NE(log.find("smc RMM_GTSI_DELEGATE x1=0x80000000 x2=0x0 x3=0x0 x4=0x0 -> x0=0xfffffffffffffffd (E_RMM_BAD_PAS)"),
	          std::string::npos)
	    << log;
	EXPECT_NE(log.find("smc FIRME_BASE_VERSION x1=0x0"), std::string::npos) << log;
}

TEST(El3ctlTfa, ReserveAndAllocSayWhichOneTheAbiTakes)
{
	TempDir d;
	Daemon el3d{d, {"--abi", "tfa"}};
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto r = el3ctl(el3d.socket, {"reserve", "--size", "16K", "--local"});
	EXPECT_EQ(r.rc, 0) << r.err;
	EXPECT_EQ(r.out, "addr=0x00000000ffbfb000 size=0x4000 local\n");
	auto big = el3ctl(el3d.socket, {"reserve", "--size", "1G"});
	EXPECT_EQ(big.rc, 3);
	EXPECT_NE(big.err.find("E_RMM_NOMEM"), std::string::npos) << big.err;
	EXPECT_NE(big.err.find("el3d says: "), std::string::npos) << big.err;
	auto alloc = el3ctl(el3d.socket, {"alloc", "--size", "4K", "--id", "1"});
	EXPECT_EQ(alloc.rc, 3);
	EXPECT_NE(alloc.err.find("`el3ctl reserve`"), std::string::npos) << alloc.err;
	TempDir sd;
	Daemon seed{sd};
	ASSERT_TRUE(seed.start()) << seed.log();
	auto unk = el3ctl(seed.socket, {"reserve", "--size", "4K"});
	EXPECT_EQ(unk.rc, 3);
	EXPECT_NE(unk.err.find("`el3ctl alloc`"), std::string::npos) << unk.err;
}
