// The SMC trace with the real daemon: --trace FILE survives kill -9 up to the last completed call,
// el3ctl trace show decodes it with a summary, el3ctl trace follows live with filters, the ring,
// and el3ctl trace set changes the file while el3d runs.
#include "el3d/smc.h"
#include "harness.hpp"

#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

using namespace el3d::test;
using namespace el3d;
extern char** environ;
using namespace std::chrono_literals;

namespace {

std::vector<nlohmann::json> lines_of(const std::string& path)
{
	std::vector<nlohmann::json> out;
	std::ifstream f(path);
	std::string l;
	while (std::getline(f, l))
		out.push_back(nlohmann::json::parse(l));
	return out;
}

// A session on `cpu` that enters and makes one SMC (the trace records open, entry, SMC, close).
void session_with_one_smc(v1::Monitor::Stub& stub, uint32_t cpu)
{
	grpc::ClientContext ctx;
	auto s = stub.Session(&ctx);
	v1::SessionRequest req;
	req.mutable_enter()->set_cpu(cpu);
	v1::SessionResponse resp;
	ASSERT_TRUE(s->Write(req) && s->Read(&resp) && resp.has_entered());
	req.mutable_smc()->set_fid(EL3_FID_RMM_EL3_FEATURES);
	ASSERT_TRUE(s->Write(req) && s->Read(&resp) && resp.has_smc());
	s->WritesDone();
	EXPECT_TRUE(s->Finish().ok());
}

}  // namespace

TEST(TraceDaemon, EveryCompletedCallIsInTheFileAfterKill9AndShowDecodesIt)
{
	TempDir d;
	const std::string file = d.file("t.jsonl");
	Daemon el3d(d, {"--trace", file});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	EXPECT_EQ(el3ctl(el3d.socket, {"boot"}).rc, 0);
	EXPECT_EQ(el3ctl(el3d.socket, {"alloc", "--size", "0x2000", "--id", "1"}).rc, 0);
	smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, 0x80000000);
	smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, 0x80000000, 0, 3);  // again, from CPU 3: E_RMM_BAD_PAS
	session_with_one_smc(*stub, 2);
	smc(*stub, EL3_FID_RMM_BOOT_COMPLETE, 0, 0x55);
	// kill -9 right after the last call returned: nothing completed is missing.
	el3d.signal(SIGKILL);
	EXPECT_EQ(el3d.wait(), 128 + SIGKILL);

	const auto ev = lines_of(file);
	std::vector<std::string> kinds;
	for (const auto& e : ev)
		kinds.push_back(e["kind"].get<std::string>() + (e.contains("name") ? ":" + e["name"].get<std::string>() : ""));
	// The start event first (how el3d is set up, for a replay); a session's opening before the entry it
	// makes, in the order the monitor saw them.
	const std::vector<std::string> want = {"start",
	                                       "entry:cold",
	                                       "smc:RMM_ALLOCATE_MEMORY",
	                                       "smc:RMM_GTSI_DELEGATE",
	                                       "smc:RMM_GTSI_DELEGATE",
	                                       "session-open",
	                                       "entry:warm",
	                                       "smc:RMM_EL3_FEATURES",
	                                       "session-close",
	                                       "smc:RMM_BOOT_COMPLETE"};
	EXPECT_EQ(kinds, want);
	for (std::size_t i = 0; i < ev.size(); ++i)
		EXPECT_EQ(ev[i]["seq"], i + 1);
	EXPECT_EQ(ev[0]["config"]["platform"], "fvp");
	EXPECT_EQ(ev[0]["config"]["carveout"]["created"], true);
	EXPECT_EQ(ev[3]["effects"][0], "gpt 0x80000000 ns->realm");
	EXPECT_EQ(ev[4]["cpu"], 3);
	EXPECT_EQ(ev[4]["result"], "E_RMM_BAD_PAS");
	EXPECT_EQ(ev[9]["in"][1], "0x55");

	const auto show = el3ctl(el3d.socket, {"trace", "show", file});
	EXPECT_EQ(show.rc, 0) << show.err;
	EXPECT_NE(show.out.find("#4 "), std::string::npos) << show.out;
	EXPECT_NE(show.out.find("cpu3 act1 RMM_GTSI_DELEGATE x1=0x80000000 -> E_RMM_BAD_PAS"), std::string::npos) << show.out;
	EXPECT_NE(show.out.find("10 events"), std::string::npos) << show.out;
	EXPECT_NE(show.out.find("slowest calls:"), std::string::npos) << show.out;

	// The daemon restarted on the same file appends; a line cut short by a kill is reported and skipped.
	{
		std::ofstream f(file, std::ios::app);
		f << R"({"v":1,"seq":10,"t_ns":1,"ki)";
	}
	const auto cut = el3ctl(el3d.socket, {"trace", "show", "--summary", file});
	EXPECT_EQ(cut.rc, 0) << cut.err;
	EXPECT_NE(cut.err.find("cut short"), std::string::npos) << cut.err;
	const auto bad = el3ctl(el3d.socket, {"trace", "show", d.file("none.jsonl")});
	EXPECT_EQ(bad.rc, 1);
}

TEST(TraceDaemon, FollowLiveWithFiltersAndTheRingAndChangeTheFileWhileRunning)
{
	TempDir d;
	Daemon el3d(d, {"--trace-ring", "3"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	for (uint64_t pa : {0x80000000ull, 0x80001000ull, 0x80001000ull, 0x80002000ull})
		smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, pa);
	// The ring keeps the last 3; only the refused delegation matches the filter.
	auto ring = el3ctl(el3d.socket, {"trace", "--ring", "--count", "1", "--result", "E_RMM_BAD_PAS", "--json"});
	ASSERT_EQ(ring.rc, 0) << ring.err;
	const auto j = nlohmann::json::parse(ring.out);
	EXPECT_EQ(j["seq"], 4);  // after the start event
	EXPECT_EQ(j["in"][0], "0x80001000");

	// Live, CPU 1 only: started in the background, then calls from CPUs 0 and 1.
	const std::string out = d.file("follow.out");
	pid_t pid = -1;
	std::vector<std::string> args = {EL3D_EL3CTL_PATH, "--socket", el3d.socket, "trace", "--cpu", "1", "--count", "2"};
	std::vector<char*> argv;
	for (auto& a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	std::this_thread::sleep_for(500ms);  // subscribed
	smc(*stub, EL3_FID_RMM_GTSI_UNDELEGATE, 0x80000000, 0, 0);
	smc(*stub, EL3_FID_RMM_GTSI_UNDELEGATE, 0x80001000, 0, 1);
	smc(*stub, EL3_FID_RMM_GTSI_UNDELEGATE, 0x80002000, 0, 1);
	int st = 0;
	for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; ++i)
		std::this_thread::sleep_for(50ms);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		FAIL() << "el3ctl trace --count 2 did not end";
	}
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	std::ifstream f(out);
	std::string l1, l2, l3;
	std::getline(f, l1);
	std::getline(f, l2);
	EXPECT_FALSE(std::getline(f, l3));
	EXPECT_NE(l1.find("cpu1 act1 RMM_GTSI_UNDELEGATE x1=0x80001000 -> E_RMM_OK"), std::string::npos) << l1;
	EXPECT_NE(l2.find("x1=0x80002000"), std::string::npos) << l2;

	// A file from now on; off again; a path el3d cannot open is refused and changes nothing.
	const std::string file = d.file("later.jsonl");
	auto set = el3ctl(el3d.socket, {"trace", "set", "--file", file});
	EXPECT_EQ(set.rc, 0) << set.err;
	EXPECT_NE(set.out.find("trace file: " + file + "; ring: 3 events"), std::string::npos) << set.out;
	smc(*stub, EL3_FID_RMM_EL3_FEATURES);
	auto refused = el3ctl(el3d.socket, {"trace", "set", "--file", d.file("no/such/dir/t.jsonl")});
	EXPECT_EQ(refused.rc, 1);
	EXPECT_NE(refused.err.find("cannot open trace file"), std::string::npos) << refused.err;
	smc(*stub, EL3_FID_RMM_EL3_FEATURES);
	EXPECT_EQ(el3ctl(el3d.socket, {"trace", "set", "--off", "--ring", "0"}).rc, 0);
	smc(*stub, EL3_FID_RMM_EL3_FEATURES);
	const auto later = lines_of(file);
	ASSERT_EQ(later.size(), 3u) << "after set --file, before --off";
	EXPECT_EQ(later[0]["kind"], "start");  // a file opened while el3d runs says how it is set up
	EXPECT_EQ(later[0]["config"]["carveout"]["created"], false);
}
