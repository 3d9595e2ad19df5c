// Reflink-or-sparse copies and in-place range copies of large sparse files.
#include "el3d/util/file_copy.hpp"

#include "el3d/util/fd.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace el3d {

namespace {

constexpr uint64_t kChunk = 1u << 20;

// The next data extent at or after `off` ([*start, *end)); false if there is none before `size`.
bool next_data(int fd, uint64_t off, uint64_t size, uint64_t& start, uint64_t& end, const std::string& what)
{
	if (off >= size)
		return false;
	off_t d = ::lseek(fd, static_cast<off_t>(off), SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return false;
		if (errno == EINVAL) {  // no SEEK_DATA here: everything is data
			start = off;
			end = size;
			return true;
		}
		throw SystemError("cannot seek in " + what, errno);
	}
	off_t h = ::lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		throw SystemError("cannot seek in " + what, errno);
	start = static_cast<uint64_t>(d);
	end = std::min<uint64_t>(static_cast<uint64_t>(h), size);
	return start < end;
}

// Copy [off, off + len) from src to dst at the same offset: copy_file_range (which may itself share
// blocks), pread/pwrite where the kernel refuses it (other file systems, older kernels).
void copy_data(int src, int dst, uint64_t off, uint64_t len, const std::string& what)
{
	bool plain = false;
	std::vector<uint8_t> buf;
	while (len != 0) {
		const std::size_t n = static_cast<std::size_t>(std::min(len, kChunk));
		if (!plain) {
			loff_t in = static_cast<loff_t>(off), out = static_cast<loff_t>(off);
			ssize_t r = ::copy_file_range(src, &in, dst, &out, n, 0);
			if (r > 0) {
				off += static_cast<uint64_t>(r);
				len -= static_cast<uint64_t>(r);
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
				throw SystemError("cannot copy " + what, errno);
			plain = true;  // r == 0 (a short source) is reported by read_exact below
		}
		buf.resize(n);
		read_exact(src, buf.data(), n, off, "read " + what);
		write_exact(dst, buf.data(), n, off, "write " + what);
		off += n;
		len -= n;
	}
}

// Make [off, off + len) of dst read as zero: punch a hole, or write zeros where that is not supported.
void zero_out(int dst, uint64_t off, uint64_t len, const std::string& what)
{
	if (len == 0)
		return;
	if (::fallocate(dst, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off), static_cast<off_t>(len)) == 0)
		return;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		throw SystemError("cannot punch a hole in " + what, errno);
	const std::vector<uint8_t> zeros(static_cast<std::size_t>(std::min(len, kChunk)), 0);
	while (len != 0) {
		const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(len, zeros.size()));
		write_exact(dst, zeros.data(), n, off, "write " + what);
		off += n;
		len -= n;
	}
}

}  // namespace

const char* copy_method_name(CopyMethod m) { return m == CopyMethod::Reflink ? "reflink" : "sparse copy"; }

CopyMethod clone_file(int src, int dst, const std::string& what)
{
	if (::ioctl(dst, FICLONE, src) == 0)
		return CopyMethod::Reflink;
	struct stat st {};
	if (::fstat(src, &st) != 0)
		throw SystemError("cannot stat " + what, errno);
	const auto size = static_cast<uint64_t>(st.st_size);
	if (::ftruncate(dst, static_cast<off_t>(size)) != 0)
		throw SystemError("cannot size the copy of " + what, errno);
	uint64_t off = 0, start = 0, end = 0;
	while (next_data(src, off, size, start, end, what)) {
		copy_data(src, dst, start, end - start, what);
		off = end;
	}
	return CopyMethod::Sparse;
}

void copy_range_over(int src, int dst, uint64_t from, uint64_t dense_end, uint64_t size, const std::string& what)
{
	// The dense part: whole, so that the destination's blocks there are rewritten, never given back.
	if (dense_end > from) {
		std::vector<uint8_t> buf;
		for (uint64_t off = from; off < dense_end;) {
			const std::size_t n = static_cast<std::size_t>(std::min(dense_end - off, kChunk));
			buf.resize(n);
			read_exact(src, buf.data(), n, off, "read " + what);
			write_exact(dst, buf.data(), n, off, "write " + what);
			off += n;
		}
		from = dense_end;
	}
	uint64_t off = from, start = 0, end = 0;
	while (next_data(src, off, size, start, end, what)) {
		zero_out(dst, off, start - off, what);
		copy_data(src, dst, start, end - start, what);
		off = end;
	}
	zero_out(dst, off, size - off, what);
}

void sync_dir(const std::string& dir)
{
	UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!fd.valid())
		throw SystemError("cannot open directory " + dir, errno);
	if (::fsync(fd.get()) != 0)
		throw SystemError("cannot sync directory " + dir, errno);
}

}  // namespace el3d
