#include "socket_guard.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

namespace el3d {

namespace {

enum class Liveness { Stale, Alive, Unknown };

// Whether something accepts connections on the Unix socket at `path` (without waiting for it).
Liveness probe_socket(const std::string& path, int& err)
{
	UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!s.valid()) {
		err = errno;
		return Liveness::Unknown;
	}
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);  // fits: checked by absolute_socket_path
	if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0)
		return Liveness::Alive;
	err = errno;
	if (err == EAGAIN || err == EINPROGRESS)  // a listener whose backlog is full is alive too
		return Liveness::Alive;
	if (err == ECONNREFUSED || err == ENOENT)  // nobody listens: left over from a daemon that died
		return Liveness::Stale;
	return Liveness::Unknown;
}

}  // namespace

std::string absolute_socket_path(const std::string& path)
{
	if (path.empty())
		throw std::runtime_error("empty socket path");
	std::string abs = std::filesystem::absolute(path).lexically_normal().string();
	if (abs.size() >= sizeof(sockaddr_un{}.sun_path))
		throw std::runtime_error("socket path " + abs + " is " + std::to_string(abs.size()) +
		                         " bytes long; Unix sockets allow at most " +
		                         std::to_string(sizeof(sockaddr_un{}.sun_path) - 1));
	return abs;
}

SocketGuard::SocketGuard(const std::string& socket_path)
    : path_(absolute_socket_path(socket_path)), lock_path_(path_ + ".lock")
{
	const std::string dir = std::filesystem::path(path_).parent_path().string();
	make_dirs(dir, 0700);
	for (int attempt = 0; attempt < 5; ++attempt) {
		// Never follow a symbolic link planted at the lock path: el3d would lock and truncate
		// whatever file it points to.
		UniqueFd fd(::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
		if (!fd.valid()) {
			if (errno == ELOOP)
				throw UnsafePath("lock file " + lock_path_ + " is a symbolic link; refusing to follow it (remove it "
				                 "if you made it, and check who else can write to " + dir + ")");
			throw SystemError("cannot open lock file " + lock_path_, errno);
		}
		struct stat by_fd {};
		if (::fstat(fd.get(), &by_fd) != 0)
			throw SystemError("cannot examine lock file " + lock_path_, errno);
		if (!S_ISREG(by_fd.st_mode) || by_fd.st_nlink > 1)
			throw UnsafePath("lock file " + lock_path_ + " is not a plain file of its own (" +
			                 (S_ISREG(by_fd.st_mode) ? "it has other hard links" : "not a regular file") +
			                 "); refusing to use it (check who else can write to " + dir + ")");
		if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK)
				throw SystemError("cannot lock " + lock_path_, errno);
			char buf[32] = {};
			ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
			std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
			while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
				pid.pop_back();
			throw SocketBusy("another el3d (pid " + pid + ") is serving " + path_ +
			                 "; stop it first or choose another --socket");
		}
		// The previous owner may have removed the lock file between our open and our lock.
		struct stat by_path {};
		if (::lstat(lock_path_.c_str(), &by_path) != 0 || !same_file(by_fd, by_path))
			continue;
		const std::string pid = std::to_string(::getpid()) + "\n";
		if (::ftruncate(fd.get(), 0) != 0)
			throw SystemError("cannot write " + lock_path_, errno);
		write_exact(fd.get(), pid.data(), pid.size(), 0, "write " + lock_path_);
		lock_ = std::move(fd);

		// We hold the lock, so no el3d that follows this protocol serves the path. Whatever is
		// there is left over from a daemon that died -- unless its lock file was deleted under it
		// (say, by a cleaner of old files in /tmp): a socket that still answers is not ours to take.
		auto give_up = [&] {
			::unlink(lock_path_.c_str());  // before unlocking, as in release()
			lock_.reset();
		};
		struct stat st {};
		if (::lstat(path_.c_str(), &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				give_up();
				throw std::runtime_error(path_ + " exists and is not a socket; refusing to replace it");
			}
			int err = 0;
			switch (probe_socket(path_, err)) {
			case Liveness::Alive:
				give_up();
				throw SocketBusy("another el3d is serving on " + path_ + " (it answers there, although its lock file " +
				                 lock_path_ + " was gone); stop it first or choose another --socket");
			case Liveness::Unknown:
				give_up();
				throw SocketBusy("cannot tell whether " + path_ + " is in use (connect: " + std::strerror(err) +
				                 "); remove it if no el3d serves it, or choose another --socket");
			case Liveness::Stale:
				::unlink(path_.c_str());
				break;
			}
		}
		return;
	}
	throw std::runtime_error("cannot take the lock on " + lock_path_ + ": it keeps being replaced");
}

std::error_code SocketGuard::restrict_socket_mode() const
{
	// Without following a symbolic link, in case the socket was replaced by one meanwhile.
	if (::fchmodat(AT_FDCWD, path_.c_str(), 0600, AT_SYMLINK_NOFOLLOW) != 0)
		return {errno, std::generic_category()};
	return {};
}

void SocketGuard::release()
{
	if (!lock_.valid())
		return;
	::unlink(path_.c_str());
	// Before unlocking: a waiter that opened it re-checks the inode. Only if it is still ours
	// (someone may have deleted it and another el3d made a new one).
	struct stat mine {}, there {};
	if (::fstat(lock_.get(), &mine) == 0 && ::lstat(lock_path_.c_str(), &there) == 0 && same_file(mine, there))
		::unlink(lock_path_.c_str());
	lock_.reset();
}

SocketGuard::~SocketGuard() { release(); }

}  // namespace el3d
