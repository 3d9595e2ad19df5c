#pragma once
// The shared-memory SMC channel of one CPU session: a page of memory shared by el3d and the
// client, holding one request (FID, x1..x12) and one answer (x0..x7) at a time, each announced by a
// doorbell that spins briefly and then sleeps on a futex. el3d makes the page (a sealed memfd that
// cannot be shrunk under it) and hands it over with handoff.hpp; it reads from it only the request
// words, once per call, and checks their sequence, so nothing a client writes there can crash el3d
// or make it wait for the client: every wait is in slices that ask whether to give up.
#include "el3d/util/fd.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace el3d::fastpath {

namespace detail {
struct Layout;
}

struct Tuning {
	unsigned spins = 2000;                         // pause loops before sleeping
	std::chrono::milliseconds slice{50};           // longest futex sleep before asking `stop` again
};

// What a side that waits asks between slices: true ends the wait (peer gone, session closing).
using Stop = std::function<bool()>;

// el3d's end. One serving thread calls next() / answer() in turn; wake() and client_left() may be
// called from any thread.
class ServerMailbox {
public:
	explicit ServerMailbox(uint32_t cpu, Tuning t = {});  // throws SystemError
	~ServerMailbox();
	ServerMailbox(const ServerMailbox&) = delete;
	ServerMailbox& operator=(const ServerMailbox&) = delete;

	int fd() const { return fd_.get(); }  // the memfd, for the hand-over

	struct Call {
		uint64_t fid = 0;
		std::array<uint64_t, 12> x{};  // x1 .. x12
	};
	enum class Next {
		Call,        // `call` holds the next request
		ClientLeft,  // the client closed its end
		Stopped,     // `stop` said so
		Invalid,     // the client broke the protocol; `why` says how
	};
	Next next(Call& call, const Stop& stop, std::string& why);
	// The answer to the call next() returned.
	void answer(const std::array<uint64_t, 8>& out);
	// Ends the session for the client: its call in progress (or next one) sees it at once.
	void end();
	// Wakes a next() in progress so that it asks `stop` now.
	void wake();
	// Whether the client has closed its end (a cheap read of one word).
	bool client_left() const;

private:
	UniqueFd fd_;
	detail::Layout* l_ = nullptr;
	Tuning t_;
	uint32_t seq_ = 0;  // the last request served
	bool ended_ = false;
};

// The client's end. call() is made by one thread at a time; wake() and leave() from any thread.
class ClientMailbox {
public:
	// Maps the memfd el3d handed over and checks that it is a mailbox for `cpu`; throws
	// std::runtime_error saying what is wrong.
	ClientMailbox(UniqueFd fd, uint32_t cpu, Tuning t = {});
	~ClientMailbox();
	ClientMailbox(const ClientMailbox&) = delete;
	ClientMailbox& operator=(const ClientMailbox&) = delete;

	enum class Outcome {
		Answered,  // `out` holds x0..x7
		Ended,     // el3d ended the session (before or instead of answering)
		Stopped,   // `stop` said so
	};
	Outcome call(uint64_t fid, const uint64_t* x12, uint64_t* out8, const Stop& stop);
	// Wakes a call() in progress so that it asks `stop` now.
	void wake();
	// Tells el3d this client leaves (idempotent).
	void leave();

private:
	UniqueFd fd_;
	detail::Layout* l_ = nullptr;
	Tuning t_;
	uint32_t seq_ = 0;  // the last request posted
	std::atomic<bool> left_{false};
};

}  // namespace el3d::fastpath
