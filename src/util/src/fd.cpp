#include "el3d/util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace el3d {

SystemError::SystemError(const std::string& what, int err)
    : std::runtime_error(what + ": " + std::strerror(err)), err_(err)
{
}

void UniqueFd::reset(int fd)
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

void read_exact(int fd, void* buf, std::size_t len, uint64_t off, const std::string& what)
{
	auto* p = static_cast<char*>(buf);
	while (len > 0) {
		ssize_t n = ::pread(fd, p, len, static_cast<off_t>(off));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw SystemError(what, errno);
		}
		if (n == 0)
			throw std::runtime_error(what + ": unexpected end of file");
		p += n;
		len -= static_cast<std::size_t>(n);
		off += static_cast<uint64_t>(n);
	}
}

void write_exact(int fd, const void* buf, std::size_t len, uint64_t off, const std::string& what)
{
	const auto* p = static_cast<const char*>(buf);
	while (len > 0) {
		ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(off));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw SystemError(what, errno);
		}
		p += n;
		len -= static_cast<std::size_t>(n);
		off += static_cast<uint64_t>(n);
	}
}

void make_dirs(const std::string& dir, unsigned mode)
{
	if (dir.empty())
		return;
	std::string cur;
	std::size_t pos = 0;
	while (pos != std::string::npos) {
		pos = dir.find('/', pos + 1);
		cur = dir.substr(0, pos);
		if (cur.empty())
			continue;
		if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
			throw SystemError("cannot create directory " + cur, errno);
	}
}

long flock_holder_pid(int fd)
{
	struct stat st {};
	if (::fstat(fd, &st) != 0)
		return 0;
	// /proc/locks lines: "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
	std::ifstream in("/proc/locks");
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream ls(line);
		std::string idx, kind, mode, rw, dev;
		long pid = 0;
		if (!(ls >> idx >> kind))
			continue;
		if (kind == "->")  // a blocked waiter: "1: -> FLOCK ..."
			continue;
		if (!(ls >> mode >> rw >> pid >> dev) || kind != "FLOCK")
			continue;
		unsigned maj = 0, min = 0;
		unsigned long long ino = 0;
		if (std::sscanf(dev.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3)
			continue;
		if (ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
			return pid;
	}
	return 0;
}

}  // namespace el3d
