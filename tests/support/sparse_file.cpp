#include "sparse_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace el3d::test {

std::string sparse_digest(const std::string& path)
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "missing";
	struct stat st {};
	::fstat(fd, &st);
	const auto size = static_cast<uint64_t>(st.st_size);
	// FNV-1a over (offset, bytes) of every 4 KiB page that is not all zero, then the size: what reading the
	// whole file would give, holes being zeros.
	uint64_t h = 1469598103934665603ull;
	auto mix = [&h](const void* p, std::size_t n) {
		for (std::size_t i = 0; i < n; ++i)
			h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
	};
	std::vector<unsigned char> buf(1 << 20);
	for (uint64_t pos = 0; pos < size;) {
		const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
		if (data < 0)
			break;
		const off_t hole = ::lseek(fd, data, SEEK_HOLE);
		const uint64_t end = hole < 0 ? size : static_cast<uint64_t>(hole);
		for (pos = static_cast<uint64_t>(data); pos < end;) {
			const ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), end - pos), static_cast<off_t>(pos));
			if (n <= 0) {
				pos = end;
				break;
			}
			for (ssize_t off = 0; off < n; off += 4096) {
				const auto len = static_cast<std::size_t>(std::min<ssize_t>(4096, n - off));
				if (std::any_of(buf.begin() + off, buf.begin() + off + static_cast<std::ptrdiff_t>(len),
				                [](unsigned char b) { return b != 0; })) {
					const uint64_t at = pos + static_cast<uint64_t>(off);
					mix(&at, sizeof(at));
					mix(buf.data() + off, len);
				}
			}
			pos += static_cast<uint64_t>(n);
		}
	}
	::close(fd);
	mix(&size, sizeof(size));
	char out[32];
	std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(h));
	return out;
}

uint64_t disk_usage(const std::string& path)
{
	struct stat st {};
	if (::stat(path.c_str(), &st) != 0)
		return UINT64_MAX;
	return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace el3d::test
