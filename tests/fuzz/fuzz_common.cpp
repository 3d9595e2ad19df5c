#include "fuzz_common.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace el3d::fuzz {

std::vector<uint8_t> Input::bytes(std::size_t max)
{
	std::size_t n = u16() % (max + 1);
	n = std::min(n, left());
	std::vector<uint8_t> out(data_ + pos_, data_ + pos_ + n);
	pos_ += n;
	return out;
}

std::span<const uint8_t> Input::rest()
{
	std::span<const uint8_t> out(data_ + pos_, left());
	pos_ = size_;
	return out;
}

namespace {
void remove_scratch();

std::string make_scratch()
{
	namespace fs = std::filesystem;
	const char* env = std::getenv("EL3D_FUZZ_SCRATCH");
	std::string base = env != nullptr && *env != '\0' ? env : "/dev/shm";
	if (::access(base.c_str(), W_OK) != 0) {
		const char* tmp = std::getenv("TMPDIR");
		base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
	}
	std::error_code ec;
	// What earlier runs that crashed left (a crash skips the exit handler): directories of processes gone.
	for (const auto& e : fs::directory_iterator(base, ec)) {
		const std::string name = e.path().filename().string();
		if (name.rfind("el3d-fuzz-", 0) != 0)
			continue;
		const long pid = std::strtol(name.c_str() + 10, nullptr, 10);
		if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
			fs::remove_all(e.path(), ec);
	}
	const std::string dir = base + "/el3d-fuzz-" + std::to_string(::getpid());
	fs::remove_all(dir, ec);
	fs::create_directories(dir, ec);
	if (ec)
		fail("cannot create the scratch directory " + dir + ": " + ec.message());
	std::atexit(remove_scratch);
	return dir;
}

void remove_scratch()
{
	std::error_code ec;
	std::filesystem::remove_all(scratch_dir(), ec);
}
}  // namespace

const std::string& scratch_dir()
{
	static const std::string* dir = new std::string(make_scratch());  // never destroyed: the exit handler reads it
	return *dir;
}

void quiet_logs() { spdlog::set_level(spdlog::level::off); }

void fail(const std::string& what)
{
	std::fprintf(stderr, "el3d fuzz: %s\n", what.c_str());
	std::fflush(stderr);
	std::abort();
}

FileDigest digest_file(const std::string& path)
{
	FileDigest d;
	d.hash = 1469598103934665603ull;
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return d;
	uint8_t buf[1 << 16];
	for (;;) {
		const ssize_t n = ::read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; ++i)
			d.hash = (d.hash ^ buf[i]) * 1099511628211ull;
		d.size += static_cast<uint64_t>(n);
	}
	::close(fd);
	return d;
}

void write_file(const std::string& path, std::span<const uint8_t> bytes)
{
	const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("cannot create " + path);
	std::size_t done = 0;
	while (done < bytes.size()) {
		const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
		if (n <= 0)
			fail("cannot write " + path);
		done += static_cast<std::size_t>(n);
	}
	::close(fd);
}

}  // namespace el3d::fuzz
