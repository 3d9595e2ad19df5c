// Fault injection with the real daemon: el3d --faults FILE (and a bad file refusing the start), el3ctl fault
// add/list/clear, a delay, a kill that ends the session and frees its CPU, and the trace marking each injected call.
#include "el3d/smc.h"
#include "harness.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace el3d::test;
using namespace el3d;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t G = 0x80000000;

std::vector<nlohmann::json> lines_of(const std::string& path)
{
	std::vector<nlohmann::json> out;
	std::ifstream f(path);
	std::string l;
	while (std::getline(f, l))
		out.push_back(nlohmann::json::parse(l));
	return out;
}

void write(const std::string& path, const std::string& text)
{
	std::ofstream f(path);
	f << text;
}

int64_t x0(const v1::SmcResponse& r) { return static_cast<int64_t>(r.x0()); }

// A session on `cpu`: entered, ready for SMCs.
struct TestSession {
	grpc::ClientContext ctx;
	std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> s;
	TestSession(v1::Monitor::Stub& stub, uint32_t cpu)
	{
		s = stub.Session(&ctx);
		v1::SessionRequest req;
		req.mutable_enter()->set_cpu(cpu);
		v1::SessionResponse resp;
		ok = s->Write(req) && s->Read(&resp) && resp.has_entered();
	}
	// false when the stream ended instead of answering
	bool smc(uint64_t fid, uint64_t x1, v1::SmcResponse& out)
	{
		v1::SessionRequest req;
		req.mutable_smc()->set_fid(fid);
		req.mutable_smc()->set_x1(x1);
		v1::SessionResponse resp;
		if (!s->Write(req) || !s->Read(&resp))
			return false;
		out = resp.smc();
		return true;
	}
	bool ok = false;
};

}  // namespace

TEST(FaultDaemon, FaultsFileMakesTheThirdDelegateFailAndTheTraceMarksIt)
{
	TempDir d;
	const std::string rules = d.file("rules.json"), trace = d.file("t.jsonl");
	write(rules, R"({"faults": [{"id": "d3", "fid": "RMM_GTSI_DELEGATE", "nth": 3, "result": "E_RMM_BAD_PAS"}]})");
	Daemon el3d(d, {"--abi", "tfa", "--faults", rules, "--trace", trace});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	EXPECT_EQ(x0(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, G)), EL3_E_RMM_OK);
	EXPECT_EQ(x0(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, G + 0x1000)), EL3_E_RMM_OK);
	EXPECT_EQ(x0(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, G + 0x2000)), EL3_E_RMM_BAD_PAS);
	// Nothing changed: the granule is Non-secure (the Non-secure world reads it), and a 4th delegate works.
	EXPECT_EQ(el3ctl(el3d.socket, {"mem", "read", "0x80002000", "8"}).rc, 0);
	EXPECT_NE(el3ctl(el3d.socket, {"mem", "read", "0x80001000", "8"}).rc, 0);  // delegated: Realm
	EXPECT_EQ(x0(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, G + 0x2000)), EL3_E_RMM_OK);

	const ProcResult list = el3ctl(el3d.socket, {"fault", "list"});
	EXPECT_EQ(list.rc, 0) << list.err;
	EXPECT_NE(list.out.find("d3: RMM_GTSI_DELEGATE any cpu nth 3 -> E_RMM_BAD_PAS  [picked 4, fired 1]"),
	          std::string::npos)
	    << list.out;
	const auto ev = lines_of(trace);
	int injected = 0;
	for (const auto& e : ev)
		if (e.value("injected", false)) {
			++injected;
			EXPECT_EQ(e["result"], "E_RMM_BAD_PAS");
			EXPECT_EQ(e["in"][0], "0x80002000");
			EXPECT_EQ(e["note"], "injected by fault rule d3");
			EXPECT_FALSE(e.contains("effects"));
		}
	EXPECT_EQ(injected, 1);
	EXPECT_NE(el3d.log().find("injected by fault rule d3"), std::string::npos);
	const ProcResult show = el3ctl(el3d.socket, {"trace", "show", trace});
	EXPECT_NE(show.out.find("[injected] (injected by fault rule d3)"), std::string::npos) << show.out;
}

TEST(FaultDaemon, BadFaultsFileRefusesTheStartNamingTheRule)
{
	TempDir d;
	const std::string rules = d.file("rules.toml");
	write(rules, "[[faults]]\nid = \"x\"\nfid = \"RMM_GTSI_DELEGATE\"\nresult = \"E_RMM_NOMEM\"\n");
	Daemon el3d(d, {"--abi", "tfa", "--faults", rules});
	EXPECT_EQ(el3d.run_to_exit(), 1);
	EXPECT_NE(el3d.log().find("rule x: result: E_RMM_NOMEM is not a result RMM_GTSI_DELEGATE may return"),
	          std::string::npos)
	    << el3d.log();
	EXPECT_NE(el3d.log().find("allowed: E_RMM_BAD_ADDR, E_RMM_BAD_PAS, SMC_UNK"), std::string::npos);
}

TEST(FaultDaemon, El3ctlAddListClear)
{
	TempDir d;
	Daemon el3d(d, {"--abi", "tfa"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	ProcResult r = el3ctl(el3d.socket, {"fault", "add", "--fid", "RMM_GTSI_DELEGATE", "--nth", "3", "--result",
	                                    "E_RMM_BAD_PAS"});
	EXPECT_EQ(r.rc, 0) << r.err;
	EXPECT_EQ(r.out, "f1: RMM_GTSI_DELEGATE any cpu nth 3 -> E_RMM_BAD_PAS\n");
	r = el3ctl(el3d.socket, {"fault", "add", "--id", "u", "--fid", "0xC40001B1", "--cpu", "2", "--when", "x1>=0x80001000",
	                         "--every", "2", "--times", "1", "--result", "E_RMM_BAD_ADDR"});
	EXPECT_EQ(r.out, "u: RMM_GTSI_UNDELEGATE cpu2 when x1>=0x80001000 every 2 times 1 -> E_RMM_BAD_ADDR\n") << r.err;
	r = el3ctl(el3d.socket, {"fault", "add", "--fid", "RMM_GTSI_DELEGATE", "--result", "E_RMM_NOMEM"});
	EXPECT_EQ(r.rc, 1);  // refused (INVALID_ARGUMENT): bad arguments
	EXPECT_NE(r.err.find("allowed: E_RMM_BAD_ADDR, E_RMM_BAD_PAS, SMC_UNK"), std::string::npos) << r.err;
	r = el3ctl(el3d.socket, {"fault", "add", "--fid", "NO_SUCH_FID", "--kill"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_NE(r.err.find("fid"), std::string::npos) << r.err;
	r = el3ctl(el3d.socket, {"fault", "list", "--json"});
	const auto j = nlohmann::json::parse(r.out);
	ASSERT_EQ(j.size(), 2u);
	EXPECT_EQ(j[0]["id"], "f1");
	EXPECT_EQ(j[1]["id"], "u");
	EXPECT_EQ(j[1]["cpu"], 2);
	EXPECT_EQ(el3ctl(el3d.socket, {"fault", "clear", "u"}).out, "1 fault rule cleared\n");
	EXPECT_EQ(el3ctl(el3d.socket, {"fault", "clear", "u"}).rc, 2);  // not there any more (NOT_FOUND)
	EXPECT_EQ(el3ctl(el3d.socket, {"fault", "clear"}).out, "1 fault rule cleared\n");
	EXPECT_EQ(el3ctl(el3d.socket, {"fault", "list"}).out, "no fault rules\n");
}

TEST(FaultDaemon, DelayThenTheRealCall)
{
	TempDir d;
	Daemon el3d(d, {"--abi", "tfa"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	ASSERT_EQ(el3ctl(el3d.socket, {"fault", "add", "--fid", "RMM_GTSI_DELEGATE", "--nth", "1", "--delay-ms", "300"}).rc, 0);
	auto stub = connect(el3d.socket);
	const auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(x0(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, G)), EL3_E_RMM_OK);
	EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
	EXPECT_EQ(x0(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, G)), EL3_E_RMM_BAD_PAS);  // it was delegated
}

TEST(FaultDaemon, KillEndsTheSessionAndFreesTheCpu)
{
	TempDir d;
	const std::string trace = d.file("t.jsonl");
	Daemon el3d(d, {"--abi", "tfa", "--trace", trace});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	ASSERT_EQ(el3ctl(el3d.socket, {"fault", "add", "--id", "crash", "--fid", "RMM_GTSI_DELEGATE", "--cpu", "1", "--nth",
	                               "2", "--kill"})
	              .rc,
	          0);
	auto stub = connect(el3d.socket);
	{
		TestSession s(*stub, 1);
		ASSERT_TRUE(s.ok);
		v1::SmcResponse r;
		ASSERT_TRUE(s.smc(EL3_FID_RMM_GTSI_DELEGATE, G, r));
		EXPECT_EQ(x0(r), EL3_E_RMM_OK);
		EXPECT_FALSE(s.smc(EL3_FID_RMM_GTSI_DELEGATE, G + 0x1000, r));  // killed: the stream ends
		const grpc::Status st = s.s->Finish();
		EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
		EXPECT_NE(st.error_message().find("fault rule crash"), std::string::npos) << st.error_message();
	}
	// The CPU is free for a new RMM at once, the granule was not delegated, and el3d runs on.
	TestSession again(*stub, 1);
	ASSERT_TRUE(again.ok);
	v1::SmcResponse r;
	ASSERT_TRUE(again.smc(EL3_FID_RMM_GTSI_DELEGATE, G + 0x1000, r));
	EXPECT_EQ(x0(r), EL3_E_RMM_OK);
	again.s->WritesDone();
	EXPECT_TRUE(again.s->Finish().ok());
	EXPECT_TRUE(el3d.running());
	bool killed = false;
	for (const auto& e : lines_of(trace))
		if (e.value("injected", false)) {
			killed = true;
			EXPECT_EQ(e["result"], "killed");
			EXPECT_EQ(e["note"], "session killed by fault rule crash");
			EXPECT_EQ(e["cpu"], 1);
		}
	EXPECT_TRUE(killed);
}

TEST(FaultDaemon, EntryRuleBreaksTheBootManifest)
{
	TempDir d;
	Daemon el3d(d, {"--abi", "tfa"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	ASSERT_EQ(el3ctl(el3d.socket, {"fault", "add", "--on-entry", "--nth", "1", "--manifest", "dram-unsorted"}).rc, 0);
	ASSERT_EQ(el3ctl(el3d.socket, {"boot", "--cold"}).rc, 0);
	ProcResult m = el3ctl(el3d.socket, {"manifest"});
	EXPECT_EQ(m.rc, 3) << m.out;
	EXPECT_NE(m.out.find("dram-unsorted"), std::string::npos) << m.out;
	ASSERT_EQ(el3ctl(el3d.socket, {"boot", "--cold"}).rc, 0);
	EXPECT_EQ(el3ctl(el3d.socket, {"manifest"}).rc, 0);
}
