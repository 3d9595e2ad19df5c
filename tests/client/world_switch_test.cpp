// The world switch with real processes: a Non-secure client (el3_rmi, el3ctl rmi) sends RMIs
// through the real daemon to an RMM in another process (echo_rmm, serving with EL3_ENTER_SERVE_RMI),
// and both die, time out and restart; and the same world switch in process.
#include "el3d/el3_client.h"
#include "process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

extern char** environ;

using namespace el3d::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kVersion = 0xC4000150, kDelegate = 0xC4000151, kUndelegate = 0xC4000152;
constexpr uint64_t kRead = 0xC4000160, kWrite = 0xC4000161, kCrash = 0xC400017E, kSleep = 0xC400017F;

// A child process with EL3D_ENDPOINT set; killed (SIGKILL) if still running at the end.
class Child {
public:
	Child(const std::vector<std::string>& argv, const std::string& endpoint)
	{
		std::vector<std::string> env = {"EL3D_ENDPOINT=" + endpoint};
		for (char** e = environ; *e != nullptr; ++e)
			if (std::string(*e).rfind("EL3D_ENDPOINT=", 0) != 0)
				env.emplace_back(*e);
		std::vector<char*> a, v;
		for (const auto& s : argv)
			a.push_back(const_cast<char*>(s.c_str()));
		a.push_back(nullptr);
		for (const auto& s : env)
			v.push_back(const_cast<char*>(s.c_str()));
		v.push_back(nullptr);
		if (::posix_spawn(&pid_, a[0], nullptr, nullptr, a.data(), v.data()) != 0)
			pid_ = -1;
	}
	~Child()
	{
		if (pid_ > 0 && code_ < 0) {
			::kill(pid_, SIGKILL);
			wait(5s);
		}
	}
	pid_t pid() const { return pid_; }
	void signal(int sig) { ::kill(pid_, sig); }
	// Exit code (128 + signal if killed), or -1 if it is still running after `timeout`.
	int wait(std::chrono::milliseconds timeout)
	{
		const auto until = std::chrono::steady_clock::now() + timeout;
		while (code_ < 0) {
			int st = 0;
			const pid_t r = ::waitpid(pid_, &st, WNOHANG);
			if (r == pid_)
				code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			else if (std::chrono::steady_clock::now() >= until)
				return -1;
			else
				std::this_thread::sleep_for(10ms);
		}
		return code_;
	}

private:
	pid_t pid_ = -1;
	int code_ = -1;
};

struct Rmi {
	int rc = -1;
	el3_regs out{};
	int forwarded = -1;
	std::string message;
};

Rmi rmi(el3_client* c, unsigned cpu, uint64_t fid, std::vector<uint64_t> x = {}, unsigned flags = 0,
        unsigned timeout_ms = 10000)
{
	uint64_t a[EL3_SMC_ARGS] = {};
	for (std::size_t i = 0; i < x.size() && i < EL3_SMC_ARGS; ++i)
		a[i] = x[i];
	Rmi r;
	el3_error err{};
	r.rc = el3_rmi(c, cpu, fid, a, flags, timeout_ms, &r.out, &r.forwarded, &err);
	r.message = err.message;
	return r;
}

class WorldSwitchDaemon : public ::testing::Test {
protected:
	void SetUp() override
	{
		daemon = std::make_unique<Daemon>(dir);
		ASSERT_TRUE(daemon->start()) << daemon->log();
		endpoint = "unix:" + daemon->socket;
		el3_error err;
		ASSERT_EQ(el3_connect(endpoint.c_str(), &ns, &err), EL3_OK) << err.message;
	}
	void TearDown() override { el3_disconnect(ns); }
	std::unique_ptr<Child> rmm(unsigned cpu)
	{
		return std::make_unique<Child>(std::vector<std::string>{EL3D_ECHO_RMM, std::to_string(cpu)}, endpoint);
	}
	// Until an RMM waits on `cpu` (an RMI_VERSION with fail-fast gets through), or 10 s.
	bool serving(unsigned cpu)
	{
		for (int i = 0; i < 1000; ++i) {
			if (rmi(ns, cpu, kVersion, {}, EL3_RMI_FAIL_FAST).rc == EL3_OK)
				return true;
			std::this_thread::sleep_for(10ms);
		}
		return false;
	}

	TempDir dir;
	std::unique_ptr<Daemon> daemon;
	std::string endpoint;
	el3_client* ns = nullptr;
};

}  // namespace

TEST_F(WorldSwitchDaemon, RmisReachAnRmmInAnotherProcessAndComeBack)
{
	auto r1 = rmm(1);
	ASSERT_TRUE(serving(1)) << daemon->log();
	Rmi v = rmi(ns, 1, kVersion);
	ASSERT_EQ(v.rc, EL3_OK) << v.message;
	EXPECT_EQ(v.forwarded, 1);
	EXPECT_EQ(v.out.x[0], 0u);
	EXPECT_EQ(v.out.x[1], 0x10001u);
	// The seed profile's interface (0.6) returns x0..x4: x5..x7 keep the caller's values.
	Rmi e = rmi(ns, 1, 0xC4000170, {1, 2, 3, 4, 5, 6, 7});
	ASSERT_EQ(e.rc, EL3_OK) << e.message;
	EXPECT_EQ(e.out.x[1], 2u);
	EXPECT_EQ(e.out.x[4], 5u);
	EXPECT_EQ(e.out.x[5], 5u);
	EXPECT_EQ(e.out.x[7], 7u);
	// EL3 answers a FID outside the RMI range itself.
	Rmi unk = rmi(ns, 1, EL3_FID_RMM_GTSI_DELEGATE, {0x80000000});
	ASSERT_EQ(unk.rc, EL3_OK);
	EXPECT_EQ(unk.forwarded, 0);
	EXPECT_EQ(unk.out.x[0], EL3_SMC_UNK);
	// el3ctl: the same call from the shell, and the CPU's state.
	auto cli = el3ctl(daemon->socket, {"rmi", "--cpu", "1", "0xC4000150"});
	EXPECT_EQ(cli.rc, 0) << cli.err;
	EXPECT_NE(cli.out.find("x0=0x0000000000000000 x1=0x0000000000010001"), std::string::npos) << cli.out;
	auto st = el3ctl(daemon->socket, {"status"});
	EXPECT_NE(st.out.find("RMM waiting for an RMI"), std::string::npos) << st.out;
	EXPECT_NE(st.out.find("RMIs served"), std::string::npos) << st.out;
	// No RMM on CPU 2: fail-fast says so at once.
	Rmi busy = rmi(ns, 2, kVersion, {}, EL3_RMI_FAIL_FAST);
	EXPECT_EQ(busy.rc, EL3_ERR_BUSY) << busy.message;
	auto cli_busy = el3ctl(daemon->socket, {"rmi", "--cpu", "2", "--fail-fast", "0xC4000150"});
	EXPECT_NE(cli_busy.rc, 0);
	EXPECT_NE(cli_busy.err.find("no RMM waits"), std::string::npos) << cli_busy.err;
}

TEST_F(WorldSwitchDaemon, NonSecureMemoryIsSharedAndADelegatedGranuleIsRealm)
{
	auto r0 = rmm(0);
	ASSERT_TRUE(serving(0)) << daemon->log();
	el3_ns_window w;
	el3_error err;
	ASSERT_EQ(el3_ns_window_get(ns, 1, &w, &err), EL3_OK) << err.message;  // DRAM at 0x80000000 (fvp)
	const uint64_t pa = w.base + 0x200000;
	auto* word = static_cast<volatile uint64_t*>(el3_pa_to_va(ns, pa));  // PA == VA, or an offset mapping (ASan)
	ASSERT_NE(word, nullptr);
	*word = 0x1122334455667788;
	Rmi rd = rmi(ns, 0, kRead, {pa});
	ASSERT_EQ(rd.rc, EL3_OK) << rd.message;
	EXPECT_EQ(rd.out.x[1], 0x1122334455667788u) << "what the host wrote, the RMM reads";
	ASSERT_EQ(rmi(ns, 0, kWrite, {pa + 8, 0xabcdef}).rc, EL3_OK);
	EXPECT_EQ(word[1], 0xabcdefu) << "and the other way round";

	// Delegated by the RMM: the granule is Realm in el3d's GPT, and the memory API refuses the
	// Non-secure world's access as a GPC fault would.
	auto before = el3ctl(daemon->socket, {"mem", "read", "0x80200000", "16"});
	EXPECT_EQ(before.rc, 0) << before.err;
	EXPECT_EQ(before.out.substr(0, 16), "8877665544332211") << before.out;
	Rmi del = rmi(ns, 0, kDelegate, {pa});
	ASSERT_EQ(del.rc, EL3_OK) << del.message;
	EXPECT_EQ(del.out.x[0], 0u);
	auto denied = el3ctl(daemon->socket, {"mem", "read", "0x80200000", "16"});
	EXPECT_NE(denied.rc, 0);
	EXPECT_NE(denied.err.find("realm"), std::string::npos) << denied.err;
	auto denied_w = el3ctl(daemon->socket, {"mem", "write", "0x801ffff8", "00112233445566778899"});
	EXPECT_NE(denied_w.rc, 0) << "a write reaching into the Realm granule is refused whole";
	EXPECT_EQ(rmi(ns, 0, kDelegate, {pa}).out.x[0], static_cast<uint64_t>(EL3_E_RMM_BAD_PAS));
	ASSERT_EQ(rmi(ns, 0, kUndelegate, {pa}).out.x[0], 0u);
	auto again = el3ctl(daemon->socket, {"mem", "read", "0x80200000", "8"});
	EXPECT_EQ(again.rc, 0) << again.err;
}

TEST_F(WorldSwitchDaemon, AnRmmKilledMidRmiFailsItsCallerAndANewRmmServesTheNext)
{
	auto first = rmm(0);
	ASSERT_TRUE(serving(0)) << daemon->log();
	const auto t0 = std::chrono::steady_clock::now();
	Rmi crash = rmi(ns, 0, kCrash, {}, 0, 60000);
	EXPECT_EQ(crash.rc, EL3_ERR_ABORTED) << crash.message;
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "an error at once, not at the deadline";
	EXPECT_NE(crash.message.find("went away"), std::string::npos) << crash.message;
	EXPECT_EQ(first->wait(5s), 128 + SIGKILL);

	auto second = rmm(0);
	ASSERT_TRUE(serving(0)) << daemon->log();
	Rmi v = rmi(ns, 0, kVersion);
	EXPECT_EQ(v.rc, EL3_OK) << v.message;
	EXPECT_EQ(v.out.x[1], 0x10000u);
}

TEST_F(WorldSwitchDaemon, ACallerThatGivesUpOrDiesLeavesTheCpuReadyForTheNextRmi)
{
	auto r0 = rmm(0);
	ASSERT_TRUE(serving(0)) << daemon->log();
	// The deadline passes while the RMM holds the RMI: EL3_ERR_TIMEOUT; its late result is dropped.
	Rmi slow = rmi(ns, 0, kSleep, {1500}, 0, 300);
	EXPECT_EQ(slow.rc, EL3_ERR_TIMEOUT) << slow.message;
	// A caller killed mid-RMI: el3ctl rmi in a process of its own, SIGKILLed while the RMM holds it.
	{
		Child cli({EL3D_EL3CTL, "--socket", daemon->socket, "--timeout", "30", "rmi", "0xC400017F", "1500"}, endpoint);
		std::this_thread::sleep_for(2500ms);  // the first sleep is over, the second one has started
		cli.signal(SIGKILL);
		EXPECT_EQ(cli.wait(5s), 128 + SIGKILL);
	}
	// The next RMI gets its own answer, not a stale one: x1 = RMIs answered before it.
	Rmi next = rmi(ns, 0, kSleep, {0});
	ASSERT_EQ(next.rc, EL3_OK) << next.message;
	EXPECT_EQ(next.out.x[1], 3u) << "serving() + two abandoned RMIs";
	EXPECT_NE(daemon->log().find("result dropped"), std::string::npos) << daemon->log();
}

TEST_F(WorldSwitchDaemon, RmisQueueForABusyOrAbsentRmmInOrder)
{
	// No RMM yet: an RMI waits in the queue and is served once one arrives.
	auto early = std::async(std::launch::async, [&] { return rmi(ns, 3, 0xC4000170, {41}); });
	std::this_thread::sleep_for(200ms);
	auto r3 = rmm(3);
	Rmi got = early.get();
	ASSERT_EQ(got.rc, EL3_OK) << got.message;
	EXPECT_EQ(got.out.x[1], 42u);
	// A busy RMM: a second RMI waits for the first one; fail-fast refuses instead.
	auto busy = std::async(std::launch::async, [&] { return rmi(ns, 3, kSleep, {500}); });
	std::this_thread::sleep_for(100ms);
	EXPECT_EQ(rmi(ns, 3, kVersion, {}, EL3_RMI_FAIL_FAST).rc, EL3_ERR_BUSY);
	Rmi queued = rmi(ns, 3, 0xC4000170, {1});
	EXPECT_EQ(queued.rc, EL3_OK) << queued.message;
	EXPECT_EQ(queued.out.x[1], 2u);
	EXPECT_EQ(busy.get().rc, EL3_OK);
	// Nothing serves CPU 2: a queued RMI ends at its deadline.
	EXPECT_EQ(rmi(ns, 2, kVersion, {}, 0, 200).rc, EL3_ERR_TIMEOUT);
}

TEST_F(WorldSwitchDaemon, El3dKilledEndsBothSidesAndBothComeBackWithTheCarveoutIntact)
{
	auto r0 = rmm(0);
	ASSERT_TRUE(serving(0)) << daemon->log();
	auto alloc = el3ctl(daemon->socket, {"alloc", "--size", "0x2000", "--id", "1", "--cpu", "5"});
	ASSERT_EQ(alloc.rc, 0) << alloc.err;
	daemon->signal(SIGKILL);
	EXPECT_EQ(daemon->wait(), 128 + SIGKILL);
	EXPECT_EQ(r0->wait(10s), 1) << "the RMM's SMC fails when el3d dies: it ends, it does not hang";
	Rmi lost = rmi(ns, 0, kVersion, {}, 0, 2000);
	EXPECT_NE(lost.rc, EL3_OK);
	el3_disconnect(ns);
	ns = nullptr;

	ASSERT_TRUE(daemon->start()) << daemon->log();
	el3_error err;
	ASSERT_EQ(el3_connect(endpoint.c_str(), &ns, &err), EL3_OK) << err.message;
	auto again = rmm(0);
	ASSERT_TRUE(serving(0)) << daemon->log();
	EXPECT_EQ(rmi(ns, 0, kVersion).out.x[1], 0x10000u);
	auto realloc = el3ctl(daemon->socket, {"alloc", "--size", "0x2000", "--id", "1", "--cpu", "5"});
	EXPECT_EQ(alloc.out, "addr=0x00000000ffbfd000 size=0x2000 id=1 fresh\n");
	EXPECT_EQ(realloc.out, "addr=0x00000000ffbfd000 size=0x2000 id=1 existing\n") << "the tagged region is where it was";
}

// The shim's in-process mode runs the same world switch: an RMM thread and a Non-secure thread.
TEST(WorldSwitchInProcess, AnRmmThreadServesRmisFromAnotherThread)
{
	TempDir dir;
	const std::string ep = "inproc:" + dir.file("c.img") + "?abi=tfa";
	el3_client* c = nullptr;
	el3_error err;
	ASSERT_EQ(el3_connect(ep.c_str(), &c, &err), EL3_OK) << err.message;
	el3_cpu* cpu = nullptr;
	el3_regs entry;
	ASSERT_EQ(el3_cpu_enter_flags(c, 0, EL3_ENTRY_AUTO, EL3_ENTER_SERVE_RMI, &cpu, &entry, &err), EL3_OK) << err.message;
	std::atomic<int> served{0};
	std::thread rmm_thread([&] {
		el3_regs r;
		el3_error e;
		if (el3_boot_complete(cpu, 0, 0, &r, &e) != EL3_OK)
			return;
		for (;;) {
			uint64_t res[EL3_SMC_ARGS] = {0, r.x[1] * 2, 0, 0, 0, 0, 0, 9};
			served++;
			if (el3_smc(cpu, EL3_FID_RMM_RMI_REQ_COMPLETE, res, &r, &e) != EL3_OK)
				return;  // the CPU was left
		}
	});
	for (uint64_t i = 1; i <= 3; ++i) {
		Rmi r = rmi(c, 0, kVersion, {i});
		ASSERT_EQ(r.rc, EL3_OK) << r.message;
		EXPECT_EQ(r.out.x[1], 2 * i);
		EXPECT_EQ(r.out.x[7], 9u) << "interface 2.0: all of x0..x7";
	}
	EXPECT_EQ(served.load(), 3);
	el3_cpu_leave(cpu);  // the RMM thread's waiting SMC fails: it ends
	rmm_thread.join();
	EXPECT_EQ(rmi(c, 0, kVersion, {}, EL3_RMI_FAIL_FAST).rc, EL3_ERR_BUSY);
	el3_disconnect(c);
}
