#pragma once
// One message of (0) and (f)'s raw socket ping-pong: exactly kRawMessage bytes written to or read from a
// socket, through short transfers and EINTR. Shared by the bench and its raw echo server.
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace el3d::bench {

inline constexpr std::size_t kRawMessage = 64;

// false when the peer closed the socket or on an error.
inline bool transfer(int fd, char* buf, bool out)
{
	std::size_t done = 0;
	while (done < kRawMessage) {
		const ssize_t n = out ? ::write(fd, buf + done, kRawMessage - done) : ::read(fd, buf + done, kRawMessage - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += static_cast<std::size_t>(n);
	}
	return true;
}

}  // namespace el3d::bench
