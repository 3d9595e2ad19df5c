// Handing the mailbox over a Unix socket: the right token gets it once, anything else nothing, and a
// client that connects and says nothing does not stop the next one for long.
#include "el3d/fastpath/handoff.hpp"

#include "el3d/fastpath/mailbox.hpp"
#include "tempdir.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

using namespace el3d;
using namespace el3d::fastpath;
using namespace std::chrono_literals;
using el3d::test::TempDir;

namespace {

UniqueFd connect_raw(const std::string& path)
{
	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
	EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
	return fd;
}

TEST(Handoff, TheTokenGetsTheMailboxOnceAndTheConnectionTellsOfDeath)
{
	TempDir dir;
	Listener l(dir.file("s.fp"));
	ServerMailbox mb(0);
	auto offer = l.offer(mb.fd());
	EXPECT_THROW(claim(l.path(), std::string(32, '0'), 2s), std::runtime_error);
	Claimed c = claim(l.path(), offer->token(), 2s);
	ClientMailbox client(std::move(c.mailbox), 0);  // the same page: it checks the header
	EXPECT_THROW(claim(l.path(), offer->token(), 2s), std::runtime_error);  // once only
	UniqueFd server_side = offer->take_connection();
	ASSERT_TRUE(server_side.valid());
	EXPECT_FALSE(peer_gone(server_side.get()));
	EXPECT_FALSE(peer_gone(c.connection.get()));
	c.connection.reset();
	EXPECT_TRUE(peer_gone(server_side.get()));
}

TEST(Handoff, ADroppedOfferIsNotHandedOver)
{
	TempDir dir;
	Listener l(dir.file("s.fp"));
	ServerMailbox mb(0);
	std::string token = l.offer(mb.fd())->token();  // dropped at once
	EXPECT_THROW(claim(l.path(), token, 2s), std::runtime_error);
}

TEST(Handoff, ASilentClientHoldsTheListenerBrieflyOnly)
{
	TempDir dir;
	Listener l(dir.file("s.fp"));
	ServerMailbox mb(0);
	auto offer = l.offer(mb.fd());
	UniqueFd silent = connect_raw(l.path());
	UniqueFd garbage = connect_raw(l.path());
	ASSERT_EQ(::write(garbage.get(), "\x01\x02", 2), 2);
	const auto t0 = std::chrono::steady_clock::now();
	Claimed c = claim(l.path(), offer->token(), 5s);
	EXPECT_TRUE(c.mailbox.valid());
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST(Handoff, AHangupWatchCallsBackAtOnceAndOnlyOnAHangup)
{
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	UniqueFd a(sv[0]), b(sv[1]);
	std::atomic<int> calls{0};
	{
		HangupWatch quiet(a.get(), [&] { ++calls; });
		std::this_thread::sleep_for(50ms);
	}  // destroyed with the peer alive: no call
	EXPECT_EQ(calls, 0);
	std::atomic<bool> called{false};
	HangupWatch watch(a.get(), [&] { called = true; });
	const auto t0 = std::chrono::steady_clock::now();
	b.reset();
	while (!called && std::chrono::steady_clock::now() - t0 < 2s)
		std::this_thread::sleep_for(1ms);
	EXPECT_TRUE(called);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
}

TEST(Handoff, TheSocketIsPrivateAndRemovedWithTheListener)
{
	TempDir dir;
	const std::string path = dir.file("s.fp");
	{
		Listener l(path);
		struct stat st {};
		ASSERT_EQ(::stat(path.c_str(), &st), 0);
		EXPECT_EQ(st.st_mode & 077, 0u);
	}
	EXPECT_NE(::access(path.c_str(), F_OK), 0);
	EXPECT_THROW(claim(path, std::string(32, '0'), 1s), SystemError);
}

}  // namespace
