#include "el3d/util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

void make_private_dir(const std::string& dir)
{
	if (dir.empty())
		throw std::runtime_error("empty directory path");
	make_dirs(dir, 0700);
	struct stat st {};
	if (::lstat(dir.c_str(), &st) != 0)
		throw SystemError("cannot examine directory " + dir, errno);
	const std::string fix = "; el3d keeps its socket or its carveout file there, so it must be a directory of yours "
	                        "that only you can access: remove it, or choose another place (XDG_RUNTIME_DIR, "
	                        "XDG_STATE_HOME, --socket, --carveout)";
	if (S_ISLNK(st.st_mode))
		throw UnsafePath("refusing to use " + dir + ": it is a symbolic link" + fix);
	if (!S_ISDIR(st.st_mode))
		throw UnsafePath("refusing to use " + dir + ": it is not a directory" + fix);
	if (st.st_uid != ::getuid())
		throw UnsafePath("refusing to use " + dir + ": it is owned by uid " + std::to_string(st.st_uid) +
		                 ", not by you (uid " + std::to_string(::getuid()) + ")" + fix);
	if ((st.st_mode & 077) != 0) {
		char mode[8];
		std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
		throw UnsafePath("refusing to use " + dir + ": its mode is " + mode +
		                 ", so group or others may access it; make it private with `chmod 700 " + dir + "`");
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
