#include "el3d/fastpath/handoff.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace el3d::fastpath {

namespace {

constexpr std::size_t kTokenBytes = 16;  // 32 hex digits on the wire
constexpr char kOk = 'K';
constexpr auto kClaimTimeout = std::chrono::seconds(1);  // how long el3d waits for a connected client's token

sockaddr_un address_of(const std::string& path)
{
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	if (path.size() >= sizeof(a.sun_path))
		throw std::runtime_error("socket path too long for a Unix socket: " + path);
	std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
	return a;
}

void set_timeouts(int fd, std::chrono::milliseconds t)
{
	const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t).count();
	const timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
	::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

std::string new_token()
{
	unsigned char b[kTokenBytes];
	std::size_t got = 0;
	while (got < sizeof(b)) {
		const ssize_t n = ::getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw SystemError("getrandom", errno);
		got += static_cast<std::size_t>(n);
	}
	static const char* hexd = "0123456789abcdef";
	std::string t;
	for (unsigned char c : b)
		t += {hexd[c >> 4], hexd[c & 15]};
	return t;
}

// Reads exactly `len` bytes within the socket's receive timeout.
bool read_all(int fd, char* buf, std::size_t len)
{
	std::size_t got = 0;
	while (got < len) {
		const ssize_t n = ::recv(fd, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += static_cast<std::size_t>(n);
	}
	return true;
}

}  // namespace

HangupWatch::HangupWatch(int connection, std::function<void()> on_hangup)
{
	stop_.reset(::eventfd(0, EFD_CLOEXEC));
	if (!stop_.valid())
		throw SystemError("eventfd", errno);
	thread_ = std::thread([connection, stop = stop_.get(), f = std::move(on_hangup)] {
		pollfd p[2] = {{connection, POLLIN | POLLRDHUP, 0}, {stop, POLLIN, 0}};
		int rc;
		do
			rc = ::poll(p, 2, -1);
		while (rc < 0 && errno == EINTR);
		if (p[1].revents == 0)
			f();
	});
}

HangupWatch::~HangupWatch()
{
	const uint64_t one = 1;
	(void)!::write(stop_.get(), &one, sizeof(one));
	thread_.join();
}

std::size_t max_socket_path() { return sizeof(sockaddr_un::sun_path) - 1; }

UniqueFd Offer::take_connection()
{
	std::lock_guard l(mu_);
	return std::move(connection_);
}

Listener::Listener(std::string path) : path_(std::move(path))
{
	const sockaddr_un a = address_of(path_);
	listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!listen_.valid())
		throw SystemError("socket", errno);
	::unlink(path_.c_str());
	const mode_t old = ::umask(077);
	const int rc = ::bind(listen_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a));
	::umask(old);
	if (rc != 0)
		throw SystemError("bind " + path_, errno);
	if (::listen(listen_.get(), 64) != 0)
		throw SystemError("listen " + path_, errno);
	wake_.reset(::eventfd(0, EFD_CLOEXEC));
	if (!wake_.valid())
		throw SystemError("eventfd", errno);
	thread_ = std::thread([this] { run(); });
}

Listener::~Listener()
{
	const uint64_t one = 1;
	(void)!::write(wake_.get(), &one, sizeof(one));
	if (thread_.joinable())
		thread_.join();
	::unlink(path_.c_str());
}

std::shared_ptr<Offer> Listener::offer(int fd)
{
	auto o = std::make_shared<Offer>();
	o->token_ = new_token();
	o->mailbox_.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
	if (!o->mailbox_.valid())
		throw SystemError("dup of the fast-path mailbox", errno);
	std::lock_guard l(mu_);
	for (auto it = offers_.begin(); it != offers_.end();)  // forget the dropped ones
		it = it->second.expired() ? offers_.erase(it) : std::next(it);
	offers_[o->token_] = o;
	return o;
}

void Listener::run()
{
	for (;;) {
		pollfd p[2] = {{listen_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
		if (::poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[1].revents != 0)
			return;
		UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
		if (conn.valid())
			serve(std::move(conn));
	}
}

// One claim. A client that connects and says nothing holds this thread for kClaimTimeout at most.
void Listener::serve(UniqueFd conn)
{
	set_timeouts(conn.get(), kClaimTimeout);
	char token[kTokenBytes * 2];
	if (!read_all(conn.get(), token, sizeof(token)))
		return;
	std::shared_ptr<Offer> o;
	{
		std::lock_guard l(mu_);
		auto it = offers_.find(std::string(token, sizeof(token)));
		if (it == offers_.end())
			return;
		o = it->second.lock();
		offers_.erase(it);  // once only
	}
	if (!o)
		return;
	char ok = kOk;
	iovec iov{&ok, 1};
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	cmsghdr* c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	const int fd = o->mailbox_.get();
	std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
	// The session's end of the connection is in place before the client has the mailbox: once it
	// has, it may tell el3d on its stream at once, and el3d then takes the connection.
	{
		std::lock_guard l(o->mu_);
		o->connection_.reset(::fcntl(conn.get(), F_DUPFD_CLOEXEC, 0));
	}
	if (::sendmsg(conn.get(), &msg, MSG_NOSIGNAL) != 1) {
		std::lock_guard l(o->mu_);
		o->connection_.reset();
	}
}

Claimed claim(const std::string& path, const std::string& token, std::chrono::milliseconds timeout)
{
	const sockaddr_un a = address_of(path);
	Claimed out;
	out.connection.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!out.connection.valid())
		throw SystemError("socket", errno);
	set_timeouts(out.connection.get(), timeout);
	if (::connect(out.connection.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0)
		throw SystemError("connect " + path, errno);
	if (::send(out.connection.get(), token.data(), token.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(token.size()))
		throw SystemError("send to " + path, errno);
	char ok = 0;
	iovec iov{&ok, 1};
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	ssize_t n;
	do
		n = ::recvmsg(out.connection.get(), &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	const cmsghdr* c = n == 1 ? CMSG_FIRSTHDR(&msg) : nullptr;
	if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
		int fd = -1;
		std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
		out.mailbox.reset(fd);
	}
	if (n != 1 || ok != kOk || !out.mailbox.valid() || (msg.msg_flags & MSG_CTRUNC) != 0)
		throw std::runtime_error("el3d did not hand over the fast-path mailbox at " + path);
	set_timeouts(out.connection.get(), std::chrono::milliseconds(0));
	return out;
}

bool peer_gone(int connection)
{
	pollfd p{connection, POLLIN | POLLRDHUP, 0};
	int rc;
	do
		rc = ::poll(&p, 1, 0);
	while (rc < 0 && errno == EINTR);
	return rc != 0;  // an event (hang-up, error, data nobody sends) or a broken fd
}

}  // namespace el3d::fastpath
