// The shared-memory fast path against the real daemon: used unless turned off at either end, the
// same answers as the stream, and the death of either side noticed at once.
#include "el3d/el3_client.h"
#include "el3d/smc.h"
#include "process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

using namespace el3d::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

extern char** environ;

namespace {

bool uses_fastpath(const Daemon& d, unsigned cpu)
{
	return d.log().find("cpu" + std::to_string(cpu) + " session on the shared-memory fast path") != std::string::npos;
}

// $EL3D_FASTPATH for the duration of a test, then as it was.
class FastPathEnv {
public:
	explicit FastPathEnv(const char* v)
	{
		if (const char* old = std::getenv("EL3D_FASTPATH"))
			old_ = old, had_ = true;
		::setenv("EL3D_FASTPATH", v, 1);
	}
	~FastPathEnv()
	{
		if (had_)
			::setenv("EL3D_FASTPATH", old_.c_str(), 1);
		else
			::unsetenv("EL3D_FASTPATH");
	}

private:
	std::string old_;
	bool had_ = false;
};

class FastPath : public ::testing::Test {
protected:
	void start(std::vector<std::string> args = {})
	{
		el3d = std::make_unique<Daemon>(dir, std::move(args));
		ASSERT_TRUE(el3d->start()) << el3d->log();
		endpoint = "unix:" + el3d->socket;
	}
	el3_client* connect()
	{
		el3_client* c = nullptr;
		el3_error err;
		EXPECT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
		return c;
	}
	TempDir dir;
	std::unique_ptr<Daemon> el3d;
	std::string endpoint;
};

// RMM_ALLOCATE_MEMORY, tag 1: the first answer is a new region, the same region every time after.
void allocate_twice(el3_cpu* cpu, uint64_t& addr)
{
	const uint64_t args[EL3_SMC_ARGS] = {0x2000, EL3_ALLOC_X2(12, 1)};
	el3_regs r;
	el3_error err;
	ASSERT_EQ(el3_smc(cpu, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err), EL3_OK) << err.message;
	addr = r.x[1];
	ASSERT_EQ(el3_smc(cpu, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err), EL3_OK) << err.message;
	EXPECT_EQ(r.x[0], 0u);
	EXPECT_EQ(r.x[1], addr);
	const uint64_t unk[EL3_SMC_ARGS] = {1, 2, 3, 4, 5, 6, 7};
	ASSERT_EQ(el3_smc(cpu, 0xC4000200, unk, &r, &err), EL3_OK) << err.message;
	EXPECT_EQ(r.x[0], EL3_SMC_UNK);
	for (unsigned i = 1; i < 8; ++i)
		EXPECT_EQ(r.x[i], i);
}

TEST_F(FastPath, OnByDefaultOffByEitherEndAndTheSameAnswers)
{
	start();
	uint64_t fast_addr = 0, stream_addr = 0;
	{
		FastPathEnv on("1");
		el3_client* c = connect();
		el3_cpu* cpu;
		el3_error err;
		ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_OK) << err.message;
		allocate_twice(cpu, fast_addr);
		EXPECT_TRUE(uses_fastpath(*el3d, 0)) << el3d->log();
		el3_disconnect(c);
	}
	{
		FastPathEnv off("0");
		el3_client* c = connect();
		el3_cpu* cpu;
		el3_error err;
		ASSERT_EQ(el3_cpu_enter(c, 1, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_OK) << err.message;
		allocate_twice(cpu, stream_addr);
		EXPECT_FALSE(uses_fastpath(*el3d, 1)) << el3d->log();
		el3_disconnect(c);
	}
	EXPECT_EQ(fast_addr, stream_addr);
	{
		FastPathEnv bad("banana");
		el3_client* c = nullptr;
		el3_error err;
		EXPECT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_ERR_INVALID);
		EXPECT_NE(std::string(err.message).find("EL3D_FASTPATH"), std::string::npos) << err.message;
	}
	el3d->signal(SIGTERM);
	ASSERT_EQ(el3d->wait(), 0);
	start({"--no-fastpath"});
	FastPathEnv on("1");
	el3_client* c = connect();
	el3_cpu* cpu;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter(c, 2, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_OK) << err.message;
	uint64_t addr = 0;
	allocate_twice(cpu, addr);
	EXPECT_EQ(addr, fast_addr);
	EXPECT_FALSE(uses_fastpath(*el3d, 2)) << el3d->log();
	el3_disconnect(c);
}

// A client blocked in an SMC on the fast path (an RMM serving RMIs waits in RMM_BOOT_COMPLETE for
// the first one) learns of el3d's death at once: EL3_ERR_SESSION, not a hang.
TEST_F(FastPath, AKilledDaemonFailsAWaitingCallPromptly)
{
	start();
	FastPathEnv on("1");
	el3_client* c = connect();
	el3_cpu* cpu;
	el3_error err;
	ASSERT_EQ(el3_cpu_enter_flags(c, 0, EL3_ENTRY_AUTO, EL3_ENTER_SERVE_RMI, &cpu, nullptr, &err), EL3_OK)
	    << err.message;
	std::atomic<int> rc{-1};
	std::string msg;
	std::thread t([&] {
		el3_regs r;
		el3_error e;
		rc = el3_boot_complete(cpu, 0, 0, &r, &e);
		msg = e.message;
	});
	std::this_thread::sleep_for(300ms);
	EXPECT_EQ(rc, -1);  // waiting for an RMI
	ASSERT_TRUE(uses_fastpath(*el3d, 0)) << el3d->log();
	const auto t0 = Clock::now();
	el3d->signal(SIGKILL);
	t.join();
	EXPECT_LT(Clock::now() - t0, 1s);
	EXPECT_EQ(rc, EL3_ERR_SESSION) << msg;
	el3_regs r;
	EXPECT_EQ(el3_smc(cpu, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_SESSION);
	el3d->wait();
	el3_disconnect(c);
}

// An RMM killed while it waits on the fast path frees its CPU at once, as its stream closing would.
TEST_F(FastPath, AKilledClientFreesItsCpu)
{
	start();
	std::vector<std::string> env = {"EL3D_ENDPOINT=" + endpoint, "EL3D_FASTPATH=1"};
	std::vector<char*> v, a;
	for (auto& s : env)
		v.push_back(s.data());
	v.push_back(nullptr);
	std::string prog = EL3D_ECHO_RMM, arg = "0";
	a = {prog.data(), arg.data(), nullptr};
	pid_t pid = -1;
	ASSERT_EQ(::posix_spawn(&pid, a[0], nullptr, nullptr, a.data(), v.data()), 0);
	// It enters CPU 0, completes its boot and waits there for an RMI.
	for (int i = 0; i < 500 && !uses_fastpath(*el3d, 0); ++i)
		std::this_thread::sleep_for(10ms);
	ASSERT_TRUE(uses_fastpath(*el3d, 0)) << el3d->log();
	std::this_thread::sleep_for(200ms);
	el3_client* c = connect();
	el3_cpu* cpu = nullptr;
	el3_error err;
	EXPECT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_ERR_REFUSED);  // held
	::kill(pid, SIGKILL);
	int st = 0;
	::waitpid(pid, &st, 0);
	const auto t0 = Clock::now();
	bool entered = false;
	while (!entered && Clock::now() - t0 < 5s) {
		entered = el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err) == EL3_OK;
		if (!entered)
			std::this_thread::sleep_for(5ms);
	}
	ASSERT_TRUE(entered) << err.message;
	EXPECT_LT(Clock::now() - t0, 500ms);
	el3_disconnect(c);
}

// A fault rule that kills the session at an SMC does so on the fast path as on the stream: the call
// fails with EL3_ERR_SESSION and the rule's reason, and the CPU is free again.
TEST_F(FastPath, AKillRuleEndsTheSessionAsOnTheStream)
{
	start();
	ASSERT_EQ(el3ctl(el3d->socket, {"fault", "add", "--id", "k", "--fid", "0xC40001B4", "--kill"}).rc, 0);
	for (const char* mode : {"1", "0"}) {
		FastPathEnv env(mode);
		el3_client* c = connect();
		el3_cpu* cpu;
		el3_error err;
		ASSERT_EQ(el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, nullptr, &err), EL3_OK) << err.message;
		el3_regs r;
		EXPECT_EQ(el3_smc(cpu, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_SESSION) << mode;
		EXPECT_NE(std::string(err.message).find("session killed by fault rule k"), std::string::npos)
		    << mode << ": " << err.message;
		EXPECT_EQ(el3_smc(cpu, EL3_FID_RMM_EL3_FEATURES, nullptr, &r, &err), EL3_ERR_SESSION) << mode;
		el3_cpu_leave(cpu);
		el3_disconnect(c);
	}
	EXPECT_TRUE(uses_fastpath(*el3d, 0)) << el3d->log();
}

}  // namespace
