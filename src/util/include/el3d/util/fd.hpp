#pragma once
// RAII file descriptor and the few POSIX helpers the core needs, with errno turned into messages.
#include <sys/stat.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace el3d {

// An error from the operating system, with the operation and path in the message.
class SystemError : public std::runtime_error {
public:
	SystemError(const std::string& what, int err);
	int code() const { return err_; }

private:
	int err_;
};

class UniqueFd {
public:
	UniqueFd() = default;
	explicit UniqueFd(int fd) : fd_(fd) {}
	~UniqueFd() { reset(); }
	UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	UniqueFd& operator=(UniqueFd&& o) noexcept
	{
		if (this != &o) {
			reset();
			fd_ = std::exchange(o.fd_, -1);
		}
		return *this;
	}
	UniqueFd(const UniqueFd&) = delete;
	UniqueFd& operator=(const UniqueFd&) = delete;

	int get() const { return fd_; }
	bool valid() const { return fd_ >= 0; }
	void reset(int fd = -1);
	// Give up ownership without closing.
	int release() { return std::exchange(fd_, -1); }

private:
	int fd_ = -1;
};

// pread/pwrite the whole range or throw SystemError.
void read_exact(int fd, void* buf, std::size_t len, uint64_t off, const std::string& what);
void write_exact(int fd, const void* buf, std::size_t len, uint64_t off, const std::string& what);

// Whether two stat results describe the same file (inode and device): a path that still names the
// file a descriptor holds, or two names of one file.
inline bool same_file(const struct stat& a, const struct stat& b) { return a.st_ino == b.st_ino && a.st_dev == b.st_dev; }

// Create the directory and its parents with the given mode (existing ones are left alone).
void make_dirs(const std::string& dir, unsigned mode);

// A path el3d will not use because someone else could control what it points to.
class UnsafePath : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

// A directory el3d keeps for itself (its default state and runtime directories): create it and
// any missing parents with mode 0700, then check, without following a symbolic link, that it is a
// directory owned by getuid() that neither group nor others may access. Throws UnsafePath, saying
// what is wrong and how to fix it, if the existing path fails a check (nothing is changed then),
// SystemError if it cannot be created or examined.
void make_private_dir(const std::string& dir);

// PID of a process holding a flock() on the file's inode, from /proc/locks; 0 if none is found.
long flock_holder_pid(int fd);

}  // namespace el3d
