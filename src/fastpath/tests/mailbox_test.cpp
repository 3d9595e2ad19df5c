// The mailbox between two processes: calls and answers, the death of either side, a client that
// writes anything at all into the page, and what an idle side costs.
#include "el3d/fastpath/mailbox.hpp"

#include "el3d/fastpath/handoff.hpp"

#include "../src/layout.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

using namespace el3d;
using namespace el3d::fastpath;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// What the test servers answer: x0 = fid + 1, x1..x7 = x1..x7 * 2.
std::array<uint64_t, 8> answer_for(const ServerMailbox::Call& c)
{
	std::array<uint64_t, 8> out{c.fid + 1};
	for (unsigned i = 1; i < 8; ++i)
		out[i] = c.x[i - 1] * 2;
	return out;
}

// A child process running `body`; killed if still there when this goes.
struct ChildProc {
	pid_t pid = -1;
	template <class F>
	explicit ChildProc(F body)
	{
		pid = ::fork();
		if (pid == 0) {
			::prctl(PR_SET_PDEATHSIG, SIGKILL);
			::_exit(body());
		}
	}
	int wait()
	{
		int st = 0;
		::waitpid(pid, &st, 0);
		pid = -1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	~ChildProc()
	{
		if (pid > 0) {
			::kill(pid, SIGKILL);
			wait();
		}
	}
};

UniqueFd dup_fd(int fd) { return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

double thread_cpu_seconds()
{
	timespec ts{};
	::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

const Stop never = [] { return false; };

TEST(Mailbox, CallsAndAnswersBetweenTwoProcesses)
{
	ServerMailbox server(3);
	UniqueFd theirs = dup_fd(server.fd());
	constexpr uint64_t kCalls = 20000;
	ChildProc client([&] {
		ClientMailbox c(std::move(theirs), 3);
		for (uint64_t i = 0; i < kCalls; ++i) {
			uint64_t x[12], out[8];
			for (unsigned k = 0; k < 12; ++k)
				x[k] = i * 100 + k;
			if (c.call(0xC4000000 + i, x, out, never) != ClientMailbox::Outcome::Answered)
				return 1;
			if (out[0] != 0xC4000001 + i)
				return 2;
			for (unsigned k = 1; k < 8; ++k)
				if (out[k] != x[k - 1] * 2)
					return 3;
		}
		c.leave();
		return 0;
	});
	ServerMailbox::Call call;
	std::string why;
	uint64_t served = 0;
	for (;;) {
		const auto n = server.next(call, never, why);
		if (n != ServerMailbox::Next::Call) {
			EXPECT_EQ(n, ServerMailbox::Next::ClientLeft) << why;
			break;
		}
		EXPECT_EQ(call.fid, 0xC4000000 + served);
		server.answer(answer_for(call));
		++served;
	}
	EXPECT_EQ(served, kCalls);
	EXPECT_EQ(client.wait(), 0);
	EXPECT_TRUE(server.client_left());
}

TEST(Mailbox, AMailboxForAnotherCpuOrNoMailboxIsRefused)
{
	ServerMailbox server(1);
	EXPECT_THROW(ClientMailbox(dup_fd(server.fd()), 2), std::runtime_error);
	UniqueFd other(::memfd_create("x", MFD_CLOEXEC));
	ASSERT_EQ(::ftruncate(other.get(), 4096), 0);
	EXPECT_THROW(ClientMailbox(std::move(other), 1), std::runtime_error);
	UniqueFd small(::memfd_create("y", MFD_CLOEXEC));
	EXPECT_THROW(ClientMailbox(std::move(small), 1), std::runtime_error);
}

TEST(Mailbox, TheClientCannotShrinkThePageUnderEl3d)
{
	ServerMailbox server(0);
	EXPECT_NE(::ftruncate(server.fd(), 0), 0);
	EXPECT_EQ(errno, EPERM);
	EXPECT_NE(::ftruncate(server.fd(), 1 << 20), 0);
}

TEST(Mailbox, El3dDyingWakesAWaitingClientAtOnce)
{
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	UniqueFd mine(sv[0]), theirs(sv[1]);
	auto server = std::make_unique<ServerMailbox>(0);
	UniqueFd page = dup_fd(server->fd());
	// The "daemon" takes the call and dies without answering.
	ChildProc daemon([&] {
		mine.reset();
		ServerMailbox::Call call;
		std::string why;
		const bool got = server->next(call, never, why) == ServerMailbox::Next::Call;
		::kill(::getpid(), SIGKILL);
		return got ? 0 : 1;
	});
	theirs.reset();
	server.reset();  // only the child holds el3d's end now
	ClientMailbox c(std::move(page), 0, Tuning{2000, std::chrono::milliseconds(50)});
	uint64_t x[12] = {}, out[8];
	const auto t0 = Clock::now();
	EXPECT_EQ(c.call(0xC4000001, x, out, [&] { return peer_gone(mine.get()); }), ClientMailbox::Outcome::Stopped);
	EXPECT_LT(Clock::now() - t0, 1s);
	EXPECT_EQ(daemon.wait(), 128 + SIGKILL);
}

TEST(Mailbox, AClientDyingIsSeenByEl3dAtOnce)
{
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	UniqueFd mine(sv[0]), theirs(sv[1]);
	ServerMailbox server(0);
	UniqueFd page = dup_fd(server.fd());
	ChildProc client([&] {
		mine.reset();
		ClientMailbox c(std::move(page), 0);
		uint64_t x[12] = {}, out[8];
		c.call(1, x, out, never);  // answered
		::pause();                 // then idles until killed
		return 0;
	});
	theirs.reset();
	ServerMailbox::Call call;
	std::string why;
	const Stop gone = [&] { return peer_gone(mine.get()); };
	ASSERT_EQ(server.next(call, gone, why), ServerMailbox::Next::Call);
	server.answer(answer_for(call));
	std::thread killer([&] {
		std::this_thread::sleep_for(100ms);
		::kill(client.pid, SIGKILL);
	});
	const auto t0 = Clock::now();
	EXPECT_EQ(server.next(call, gone, why), ServerMailbox::Next::Stopped);
	EXPECT_LT(Clock::now() - t0, 1s);
	killer.join();
}

TEST(Mailbox, RequestsOutOfSequenceAreRefused)
{
	ServerMailbox server(0);
	auto* l = static_cast<detail::Layout*>(
	    ::mmap(nullptr, detail::kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, server.fd(), 0));
	ASSERT_NE(l, MAP_FAILED);
	ServerMailbox::Call call;
	std::string why;
	std::atomic_ref<uint32_t>(l->req).store(1);
	ASSERT_EQ(server.next(call, never, why), ServerMailbox::Next::Call);
	server.answer(answer_for(call));
	std::atomic_ref<uint32_t>(l->req).store(7);
	EXPECT_EQ(server.next(call, never, why), ServerMailbox::Next::Invalid);
	EXPECT_NE(why.find("request number 7 after 1"), std::string::npos) << why;
	::munmap(l, detail::kPageSize);
}

// A hostile client: random words everywhere in the page, at random times, including the words el3d
// writes and the futex words, and futex wake-ups of its own. el3d serves, refuses, or gives up when
// asked; it never crashes and never waits past its slice for the client.
TEST(Mailbox, AnythingAClientWritesLeavesEl3dServingOrRefusing)
{
	for (unsigned round = 0; round < 20; ++round) {
		ServerMailbox server(0, Tuning{100, std::chrono::milliseconds(5)});
		UniqueFd page = dup_fd(server.fd());
		ChildProc vandal([&] {
			auto* w = static_cast<uint32_t*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, page.get(), 0));
			std::mt19937 rng(round);
			for (unsigned i = 0; i < 20000; ++i) {
				const unsigned at = rng() % 64;  // the first 256 bytes: every field
				std::atomic_ref<uint32_t>(w[at]).store(rng() % 4 == 0 ? i : static_cast<uint32_t>(rng()));
				if (i % 64 == 0)
					std::this_thread::sleep_for(std::chrono::microseconds(50));
			}
			return 0;
		});
		const auto t0 = Clock::now();
		ServerMailbox::Call call;
		std::string why;
		const Stop enough = [&] { return Clock::now() - t0 > 300ms; };
		for (;;) {
			const auto n = server.next(call, enough, why);
			if (n != ServerMailbox::Next::Call)
				break;
			server.answer(answer_for(call));
		}
		EXPECT_LT(Clock::now() - t0, 2s);
		server.end();
		vandal.wait();
	}
}

TEST(Mailbox, AnIdleSideBurnsNoCpuAfterItsSpin)
{
	ServerMailbox server(0);  // the default tuning: 2 000 pause loops, then 50 ms slices
	ServerMailbox::Call call;
	std::string why;
	const auto t0 = Clock::now();
	const double cpu0 = thread_cpu_seconds();
	EXPECT_EQ(server.next(call, [&] { return Clock::now() - t0 > 1s; }, why), ServerMailbox::Next::Stopped);
	const double used = thread_cpu_seconds() - cpu0;
	EXPECT_LT(used, 0.005) << "an idle second cost " << used * 1e3 << " ms of CPU";
}

TEST(Mailbox, WakeMakesAWaitAskAgainAtOnce)
{
	ServerMailbox server(0, Tuning{2000, std::chrono::seconds(30)});
	ClientMailbox client(dup_fd(server.fd()), 0, Tuning{2000, std::chrono::seconds(30)});
	std::atomic<bool> stop_client{false}, stop_server{false};
	std::thread a([&] {
		uint64_t x[12] = {}, out[8];
		EXPECT_EQ(client.call(1, x, out, [&] { return stop_client.load(); }), ClientMailbox::Outcome::Answered);
		EXPECT_EQ(client.call(2, x, out, [&] { return stop_client.load(); }), ClientMailbox::Outcome::Stopped);
	});
	ServerMailbox::Call call;
	std::string why;
	ASSERT_EQ(server.next(call, never, why), ServerMailbox::Next::Call);
	server.answer(answer_for(call));
	ASSERT_EQ(server.next(call, never, why), ServerMailbox::Next::Call);  // call 2, not answered
	std::this_thread::sleep_for(50ms);
	auto t0 = Clock::now();
	stop_client = true;
	client.wake();
	a.join();
	EXPECT_LT(Clock::now() - t0, 1s);
	std::thread b([&] {
		std::this_thread::sleep_for(50ms);
		stop_server = true;
		server.wake();
	});
	t0 = Clock::now();
	EXPECT_EQ(server.next(call, [&] { return stop_server.load(); }, why), ServerMailbox::Next::Stopped);
	EXPECT_LT(Clock::now() - t0, 1s);
	b.join();
}

TEST(Mailbox, EndAndLeaveReachTheOtherSideAtOnce)
{
	ServerMailbox server(0, Tuning{2000, std::chrono::seconds(30)});
	ClientMailbox client(dup_fd(server.fd()), 0, Tuning{2000, std::chrono::seconds(30)});
	std::thread a([&] {
		uint64_t x[12] = {}, out[8];
		EXPECT_EQ(client.call(1, x, out, never), ClientMailbox::Outcome::Ended);
		EXPECT_EQ(client.call(2, x, out, never), ClientMailbox::Outcome::Ended);  // and every later one
	});
	ServerMailbox::Call call;
	std::string why;
	ASSERT_EQ(server.next(call, never, why), ServerMailbox::Next::Call);
	const auto t0 = Clock::now();
	server.end();
	a.join();
	EXPECT_LT(Clock::now() - t0, 1s);

	ServerMailbox s2(0, Tuning{2000, std::chrono::seconds(30)});
	ClientMailbox c2(dup_fd(s2.fd()), 0);
	std::thread b([&] {
		std::this_thread::sleep_for(50ms);
		c2.leave();
	});
	EXPECT_EQ(s2.next(call, never, why), ServerMailbox::Next::ClientLeft);
	b.join();
}

}  // namespace
