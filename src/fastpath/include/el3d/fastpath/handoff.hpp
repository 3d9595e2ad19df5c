#pragma once
// Handing a session's mailbox from el3d to its client: el3d listens on a Unix socket of its own
// beside its gRPC socket; a client presents the one-time token its session handshake gave it and
// receives the mailbox's memfd (SCM_RIGHTS). The connection then stays open for the life of the
// session: each side sees the other's death as a hang-up on it (peer_gone()), at once.
#include "el3d/util/fd.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace el3d::fastpath {

// One mailbox offered to whoever presents its token, once.
class Offer {
public:
	const std::string& token() const { return token_; }
	// The connection of the client that claimed the mailbox (invalid: not claimed, or taken already).
	UniqueFd take_connection();

private:
	friend class Listener;
	std::string token_;
	UniqueFd mailbox_;
	std::mutex mu_;
	UniqueFd connection_;
};

class Listener {
public:
	// Binds `path` (a leftover socket there is replaced: the caller owns the path, e.g. by holding
	// el3d's socket lock) with mode 0600 and starts answering claims. Throws SystemError.
	explicit Listener(std::string path);
	~Listener();  // stops answering, removes the socket
	Listener(const Listener&) = delete;
	Listener& operator=(const Listener&) = delete;

	const std::string& path() const { return path_; }
	// Offers the mailbox `fd` (duplicated) under a new random token until the returned Offer is
	// dropped or claimed.
	std::shared_ptr<Offer> offer(int fd);

private:
	void run();
	void serve(UniqueFd conn);
	std::string path_;
	UniqueFd listen_, wake_;  // wake_: eventfd that stops run()
	std::mutex mu_;
	std::map<std::string, std::weak_ptr<Offer>> offers_;
	std::thread thread_;
};

// The client's side: connects to `path`, presents `token`, and returns the mailbox's fd and the
// connection (keep it open for the session). Throws std::runtime_error; each step is bounded by
// `timeout`.
struct Claimed {
	UniqueFd mailbox, connection;
};
Claimed claim(const std::string& path, const std::string& token, std::chrono::milliseconds timeout);

// Whether the other end of a hand-over connection has gone away (closed, died, or sent something,
// which neither side does after the hand-over). Never blocks.
bool peer_gone(int connection);

// Calls `on_hangup` (on a thread of its own, once) as soon as the other end of a hand-over
// connection goes away, so that a side sleeping in its mailbox learns of it at once instead of at its
// next slice; nothing after it is destroyed. Costs no CPU while it waits. Throws SystemError.
class HangupWatch {
public:
	HangupWatch(int connection, std::function<void()> on_hangup);
	~HangupWatch();
	HangupWatch(const HangupWatch&) = delete;
	HangupWatch& operator=(const HangupWatch&) = delete;

private:
	UniqueFd stop_;
	std::thread thread_;
};

// The longest socket path a Unix socket can have (sun_path, with its terminating NUL).
std::size_t max_socket_path();

}  // namespace el3d::fastpath
