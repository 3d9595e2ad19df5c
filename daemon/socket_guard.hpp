#pragma once
// Ownership of the daemon's socket path. A lock file next to the socket (<socket>.lock, holding the
// owner's PID) decides who may serve it, so a second daemon never silently takes over a socket
// that a live one is serving, while a socket left behind by a crashed daemon is cleaned up. A
// socket is only removed when nothing answers on it, so a daemon whose lock file was deleted
// keeps its socket too. The lock file is never followed through a symbolic link.
#include "el3d/util/fd.hpp"

#include <stdexcept>
#include <string>
#include <system_error>

namespace el3d {

class SocketBusy : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

class SocketGuard {
public:
	// Take the socket path or throw SocketBusy (another el3d serves it, or may), UnsafePath (the
	// lock file is a symbolic link or not a plain file) or std::runtime_error, with a clear message.
	explicit SocketGuard(const std::string& socket_path);
	~SocketGuard();
	SocketGuard(const SocketGuard&) = delete;
	SocketGuard& operator=(const SocketGuard&) = delete;

	const std::string& path() const { return path_; }
	// chmod 0600 the socket once the server has created it, without following a symbolic link.
	std::error_code restrict_socket_mode() const;
	// Remove the socket and the lock file; called once the server has stopped.
	void release();

private:
	std::string path_;
	std::string lock_path_;
	UniqueFd lock_;
};

// Absolute, normalised socket path; throws if it does not fit a sockaddr_un.
std::string absolute_socket_path(const std::string& path);

}  // namespace el3d
