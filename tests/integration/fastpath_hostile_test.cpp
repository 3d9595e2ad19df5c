// A client of the real daemon that breaks the fast path's rules: el3d ends only that session (or
// refuses the switch), keeps serving everyone else, and frees the CPU.
#include "el3d/fastpath/handoff.hpp"
#include "harness.hpp"
#include "layout.hpp"
#include "process.hpp"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

using namespace el3d;
using namespace el3d::test;
using namespace std::chrono_literals;

namespace {

using Stream = grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>;

struct Session {
	std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>();
	std::unique_ptr<Stream> stream;
	v1::SessionResponse entered;
};

Session enter(v1::Monitor::Stub& stub, uint32_t cpu)
{
	Session s;
	s.stream = stub.Session(s.ctx.get());
	v1::SessionRequest req;
	req.mutable_enter()->set_cpu(cpu);
	req.mutable_enter()->set_fastpath(true);
	EXPECT_TRUE(s.stream->Write(req));
	EXPECT_TRUE(s.stream->Read(&s.entered));
	return s;
}

bool switch_over(Session& s)
{
	v1::SessionRequest req;
	req.mutable_fastpath();
	v1::SessionResponse resp;
	EXPECT_TRUE(s.stream->Write(req));
	EXPECT_TRUE(s.stream->Read(&resp));
	EXPECT_TRUE(resp.has_fastpath());
	return resp.fastpath().on();
}

TEST(FastPathHostile, AClientBreakingTheMailboxEndsOnlyItsOwnSession)
{
	TempDir dir;
	Daemon d(dir);
	ASSERT_TRUE(d.start()) << d.log();
	auto stub = connect(d.socket);

	// A switch without claiming the mailbox is refused; the session goes on over its stream.
	Session a = enter(*stub, 0);
	ASSERT_TRUE(a.entered.entered().has_fastpath());
	EXPECT_FALSE(switch_over(a));
	v1::SessionRequest unk;
	unk.mutable_smc()->set_fid(0xC4000200);
	v1::SessionResponse resp;
	ASSERT_TRUE(a.stream->Write(unk));
	ASSERT_TRUE(a.stream->Read(&resp));
	EXPECT_EQ(resp.smc().x0(), ~0ull);
	a.stream->WritesDone();
	EXPECT_TRUE(a.stream->Finish().ok());

	// Claimed and switched, then an out-of-sequence request number and garbage everywhere.
	Session b = enter(*stub, 1);
	const auto& offer = b.entered.entered().fastpath();
	fastpath::Claimed claimed = fastpath::claim(offer.socket(), offer.token(), 5s);
	ASSERT_TRUE(switch_over(b));
	auto* l = static_cast<fastpath::detail::Layout*>(
	    ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, claimed.mailbox.get(), 0));
	ASSERT_NE(l, MAP_FAILED);
	for (unsigned i = 0; i < 13; ++i)
		std::atomic_ref<uint64_t>(i == 0 ? l->fid : l->x[i - 1]).store(0xdeadbeefcafe0000ull + i);
	std::atomic_ref<uint32_t>(l->server_sleeping).store(0);
	std::atomic_ref<uint32_t>(l->req).store(12345);
	::syscall(SYS_futex, &l->req, FUTEX_WAKE, 1, nullptr, nullptr, 0);
	const grpc::Status st = b.stream->Finish();
	EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
	EXPECT_NE(st.error_message().find("request number 12345"), std::string::npos) << st.error_message();
	EXPECT_NE(std::atomic_ref<uint32_t>(l->resp).load() & fastpath::detail::kClosed, 0u);  // told at once
	::munmap(l, 4096);

	// The CPU is free again and el3d serves on.
	Session c = enter(*stub, 1);
	EXPECT_TRUE(c.entered.has_entered());
	c.stream->WritesDone();
	EXPECT_TRUE(c.stream->Finish().ok());
	EXPECT_EQ(smc(*stub, 0xC4000200).x0(), ~0ull);
	EXPECT_TRUE(d.running());
}

// A client that switches and then neither calls nor closes: el3d's thread for it sleeps (no CPU) and
// still stops with the daemon.
TEST(FastPathHostile, ASilentClientDoesNotHoldTheDaemonsShutdown)
{
	TempDir dir;
	Daemon d(dir);
	ASSERT_TRUE(d.start()) << d.log();
	auto stub = connect(d.socket);
	Session s = enter(*stub, 0);
	const auto& offer = s.entered.entered().fastpath();
	fastpath::Claimed claimed = fastpath::claim(offer.socket(), offer.token(), 5s);
	ASSERT_TRUE(switch_over(s));
	std::this_thread::sleep_for(300ms);
	const auto t0 = std::chrono::steady_clock::now();
	d.signal(SIGTERM);
	EXPECT_EQ(d.wait(), 0);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
