#include "socket_guard.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

namespace el3d {

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
		UniqueFd fd(::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
		if (!fd.valid())
			throw SystemError("cannot open lock file " + lock_path_, errno);
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
		struct stat by_fd {}, by_path {};
		if (::fstat(fd.get(), &by_fd) != 0 || ::stat(lock_path_.c_str(), &by_path) != 0 ||
		    by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev)
			continue;
		const std::string pid = std::to_string(::getpid()) + "\n";
		if (::ftruncate(fd.get(), 0) != 0)
			throw SystemError("cannot write " + lock_path_, errno);
		write_exact(fd.get(), pid.data(), pid.size(), 0, "write " + lock_path_);
		lock_ = std::move(fd);

		// We own the path now; whatever is there is left over from a daemon that died.
		struct stat st {};
		if (::lstat(path_.c_str(), &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				::unlink(lock_path_.c_str());
				lock_.reset();
				throw std::runtime_error(path_ + " exists and is not a socket; refusing to replace it");
			}
			::unlink(path_.c_str());
		}
		return;
	}
	throw std::runtime_error("cannot take the lock on " + lock_path_ + ": it keeps being replaced");
}

void SocketGuard::release()
{
	if (!lock_.valid())
		return;
	::unlink(path_.c_str());
	::unlink(lock_path_.c_str());  // before unlocking: a waiter that opened it re-checks the inode
	lock_.reset();
}

SocketGuard::~SocketGuard() { release(); }

}  // namespace el3d
