#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>
#include <thread>

namespace el3d::bench {

namespace {

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void on_stop_signal(int) { g_interrupted.store(true, std::memory_order_relaxed); }

cpu_set_t g_initial_cpus;
bool g_initial_known = false;

// split-cpu: this process on CPU 0, the servers on CPU 1.
cpu_set_t mask_for(Placement p, bool server = false)
{
	if (p == Placement::Unpinned)
		return g_initial_cpus;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(p == Placement::SplitCpu && server ? 1 : 0, &one);
	return one;
}

[[noreturn]] void throw_errno(const std::string& what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

void install_interrupt_handlers()
{
	struct sigaction sa {};
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	::sigaction(SIGINT, &sa, nullptr);
	::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

const char* name(Placement p)
{
	return p == Placement::SameCpu ? "same-cpu" : p == Placement::SplitCpu ? "split-cpu" : "unpinned";
}

void remember_initial_affinity()
{
	if (::sched_getaffinity(0, sizeof(g_initial_cpus), &g_initial_cpus) != 0)
		throw_errno("sched_getaffinity");
	if (!CPU_ISSET(0, &g_initial_cpus))
		throw std::runtime_error("CPU 0 is not in this process's affinity mask; same-cpu runs need it");
	g_initial_known = true;
}

int cpu_count()
{
	return g_initial_known ? CPU_COUNT(&g_initial_cpus) : static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

void place_this_process(Placement p)
{
	const cpu_set_t mask = mask_for(p);
	// sched_setaffinity() acts on one thread; gRPC has its own threads (pollers, timers, executors), and a client
	// whose threads run on the other CPU would put the cross-CPU wake-ups back in.
	DIR* d = ::opendir("/proc/self/task");
	if (d == nullptr)
		throw_errno("opendir /proc/self/task");
	while (const dirent* e = ::readdir(d)) {
		const pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
		if (tid > 0)
			::sched_setaffinity(tid, sizeof(mask), &mask);  // a thread that just exited is not an error
	}
	::closedir(d);
	if (::sched_setaffinity(0, sizeof(mask), &mask) != 0)
		throw_errno("sched_setaffinity");
}

// --- TempDir ---------------------------------------------------------------------------------------------------

TempDir::TempDir()
{
	std::string tmpl = "/tmp/el3db.XXXXXX";
	if (::mkdtemp(tmpl.data()) == nullptr)
		throw_errno("mkdtemp " + tmpl);
	path_ = tmpl;
}

TempDir::~TempDir()
{
	std::error_code ec;
	std::filesystem::remove_all(path_, ec);
}

// --- Child -----------------------------------------------------------------------------------------------------

Child::Child(std::string what, std::vector<std::string> argv, Placement placement, const std::string& log_path)
    : what_(std::move(what)), argv_(std::move(argv)), log_path_(log_path)
{
	// Everything the child needs is prepared before fork(): this process has gRPC threads, so between fork and exec
	// the child may only make async-signal-safe calls.
	std::vector<char*> args;
	for (auto& a : argv_)
		args.push_back(a.data());
	args.push_back(nullptr);
	const cpu_set_t mask = mask_for(placement, true);
	const pid_t parent = ::getpid();
	// A file, not the benchmark's stderr: the daemon logs a line per unimplemented RMM-EL3 call, and writing to a
	// file costs the same wherever the benchmark's own output goes.
	const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		throw_errno("open " + log_path);
	int report[2];  // exec failure: the child writes errno; a successful exec closes it (O_CLOEXEC) unwritten
	if (::pipe2(report, O_CLOEXEC) != 0) {
		const int e = errno;
		::close(log_fd);
		throw std::system_error(e, std::generic_category(), "pipe2");
	}

	spawned_ = Clock::now();
	pid_ = ::fork();
	if (pid_ < 0) {
		const int e = errno;
		::close(log_fd);
		::close(report[0]);
		::close(report[1]);
		throw std::system_error(e, std::generic_category(), "fork");
	}
	if (pid_ == 0) {
		::close(report[0]);
		// Die with the benchmark even if it is killed outright; the daemon treats SIGTERM as a clean stop.
		::prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (::getppid() != parent)
			::_exit(127);
		// Explicit in both cases: the child would otherwise inherit whatever this thread is pinned to.
		::sched_setaffinity(0, sizeof(mask), &mask);
		sigset_t none;
		sigemptyset(&none);
		::sigprocmask(SIG_SETMASK, &none, nullptr);
		::dup2(log_fd, STDOUT_FILENO);  // dup2 leaves O_CLOEXEC off the copies
		::dup2(log_fd, STDERR_FILENO);
		::execv(args[0], args.data());
		const int e = errno;
		[[maybe_unused]] auto n = ::write(report[1], &e, sizeof(e));
		::_exit(127);
	}
	::close(log_fd);
	::close(report[1]);
	int child_errno = 0;
	ssize_t n;
	do
		n = ::read(report[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	::close(report[0]);
	if (n == static_cast<ssize_t>(sizeof(child_errno))) {
		int st;
		::waitpid(pid_, &st, 0);
		reaped_ = true;
		throw std::system_error(child_errno, std::generic_category(), "cannot execute " + argv_[0]);
	}
}

Child::~Child()
{
	try {
		stop();
	} catch (...) {
	}
}

std::optional<int> Child::exited()
{
	if (reaped_)
		return status_;
	int st = 0;
	const pid_t r = ::waitpid(pid_, &st, WNOHANG);
	if (r == pid_) {
		reaped_ = true;
		status_ = st;
		return st;
	}
	return std::nullopt;
}

int Child::stop(std::chrono::milliseconds grace)
{
	if (reaped_ || pid_ <= 0)
		return status_;
	::kill(pid_, SIGTERM);  // the pid is not reaped yet, so it is still ours
	const auto deadline = Clock::now() + grace;
	while (Clock::now() < deadline) {
		if (auto st = exited())
			return *st;
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	::kill(pid_, SIGKILL);
	int st = 0;
	while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
	}
	reaped_ = true;
	status_ = st;
	return st;
}

double Child::cpu_seconds() const
{
	std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
	std::string line;
	std::getline(f, line);
	// The command name is in parentheses and may contain spaces; fields are counted after the last ')'.
	const auto close = line.rfind(')');
	if (close == std::string::npos)
		return 0;
	std::istringstream in(line.substr(close + 2));
	std::string field;
	unsigned long long utime = 0, stime = 0;
	for (int i = 3; i <= 15 && in >> field; ++i) {
		if (i == 14)
			utime = std::stoull(field);
		else if (i == 15)
			stime = std::stoull(field);
	}
	return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint64_t Child::rss_bytes() const
{
	std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
	std::string key;
	while (f >> key) {
		if (key == "VmRSS:") {
			uint64_t kb = 0;
			f >> kb;
			return kb * 1024;
		}
		f.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
	}
	return 0;
}

std::string Child::log_tail(std::size_t lines) const
{
	std::ifstream f(log_path_);
	std::vector<std::string> all;
	for (std::string l; std::getline(f, l);)
		all.push_back(l);
	std::string out;
	for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
		out += (out.empty() ? "" : " | ") + all[i];
	return out.empty() ? "(log empty)" : out;
}

std::string describe_wait_status(int status)
{
	if (WIFEXITED(status))
		return "exit " + std::to_string(WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return "signal " + std::to_string(WTERMSIG(status));
	return "status " + std::to_string(status);
}

double self_cpu_seconds()
{
	rusage ru{};
	::getrusage(RUSAGE_SELF, &ru);
	auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
	return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// --- background load -------------------------------------------------------------------------------------------

namespace {
void add_disk_stats(LoadSnapshot& s)
{
	std::ifstream f("/proc/diskstats");
	for (std::string l; std::getline(f, l);) {
		std::istringstream in(l);
		unsigned major = 0, minor = 0;
		std::string dev;
		in >> major >> minor >> dev;
		// Whole disks only (partitions would count twice), and no memory-backed devices.
		if (dev.rfind("loop", 0) == 0 || dev.rfind("ram", 0) == 0 || dev.rfind("zram", 0) == 0 ||
		    !std::filesystem::exists("/sys/block/" + dev))
			continue;
		// reads: completed merged sectors ms; writes: completed merged sectors ms; in flight, io ms, weighted ms;
		// discards: completed merged sectors ms; flushes: completed ms.
		uint64_t v[17] = {};
		for (auto& x : v)
			in >> x;
		s.sectors_written += v[6];
		s.flushes += v[15];
	}
}
}  // namespace

LoadSnapshot load_snapshot()
{
	LoadSnapshot s;
	s.at = Clock::now();
	std::ifstream f("/proc/stat");
	std::string cpu;
	unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
	f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
	const auto tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
	s.busy = static_cast<double>(user + nice + system + irq + softirq) / tick;
	s.steal = static_cast<double>(steal) / tick;
	rusage self{}, children{};
	::getrusage(RUSAGE_SELF, &self);
	::getrusage(RUSAGE_CHILDREN, &children);
	auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
	s.ours = sec(self.ru_utime) + sec(self.ru_stime) + sec(children.ru_utime) + sec(children.ru_stime);
	add_disk_stats(s);
	return s;
}

Background background_between(const LoadSnapshot& from, const LoadSnapshot& to)
{
	const double capacity = std::chrono::duration<double>(to.at - from.at).count() *
	                        static_cast<double>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
	Background b;
	if (capacity <= 0)
		return b;
	b.others_pct = std::max(0.0, (to.busy - from.busy) - (to.ours - from.ours)) / capacity * 100;
	b.steal_pct = (to.steal - from.steal) / capacity * 100;
	b.disk_write_mib = static_cast<double>(to.sectors_written - from.sectors_written) * 512 / (1 << 20);
	b.disk_flushes = to.flushes - from.flushes;
	return b;
}

// --- machine ---------------------------------------------------------------------------------------------------

FileUsage file_usage(const std::string& path)
{
	struct stat st {};
	if (::stat(path.c_str(), &st) != 0)
		throw_errno("stat " + path);
	return {static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_blocks) * 512};
}

std::string filesystem_type(const std::string& path)
{
	struct statfs fs {};
	if (::statfs(path.c_str(), &fs) != 0)
		return "unknown";
	switch (static_cast<unsigned long>(fs.f_type)) {
	case 0xEF53:
		return "ext4";
	case 0x01021994:
		return "tmpfs";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	case 0x794C7630:
		return "overlayfs";
	default: {
		std::ostringstream o;
		o << "fs magic 0x" << std::hex << static_cast<unsigned long>(fs.f_type);
		return o.str();
	}
	}
}

std::string cpu_model()
{
	std::ifstream f("/proc/cpuinfo");
	std::string line;
	while (std::getline(f, line)) {
		if (line.rfind("model name", 0) == 0) {
			const auto colon = line.find(':');
			if (colon != std::string::npos)
				return line.substr(colon + 2);
		}
	}
	return "unknown CPU";
}

std::string kernel_release()
{
	utsname u{};
	if (::uname(&u) != 0)
		return "unknown";
	return std::string(u.sysname) + " " + u.release;
}

}  // namespace el3d::bench
