#pragma once
// The processes el3d_bench starts (the daemon, the echo server), their temp dirs, CPU placement and what /proc says
// about them. Nothing here uses gRPC.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace el3d::bench {

using Clock = std::chrono::steady_clock;

// --- interruption ----------------------------------------------------------------------------------------------
// SIGINT/SIGTERM only set a flag: the measurement loops poll it and throw Interrupted, so the stack unwinds through
// the destructors that stop the children and remove the temp dirs.
struct Interrupted : std::runtime_error {
	Interrupted() : std::runtime_error("interrupted") {}
};
void install_interrupt_handlers();
bool interrupted();
inline void check_interrupted()
{
	if (interrupted())
		throw Interrupted();
}

// --- placement ---------------------------------------------------------------------------------------------------
// SplitCpu (only in (f)): this process on CPU 0, the servers it starts on CPU 1.
enum class Placement { SameCpu, Unpinned, SplitCpu };
const char* name(Placement p);

// Remembers the CPUs this process may use at start (what "unpinned" gives back). Call first thing in main().
void remember_initial_affinity();
// Pins every thread of this process, including those gRPC has started, to CPU 0 (SameCpu), or lets them run on all
// the CPUs of the initial mask again (Unpinned). Threads created later inherit it from their creator.
void place_this_process(Placement p);
int cpu_count();  // CPUs in the initial mask

// --- temp dir ----------------------------------------------------------------------------------------------------
// A fresh directory under /tmp, removed with everything in it when this goes out of scope. Short on purpose:
// socket paths must fit sun_path (108 bytes).
class TempDir {
public:
	TempDir();
	~TempDir();
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;
	const std::string& path() const { return path_; }
	std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

private:
	std::string path_;
};

// --- child processes -----------------------------------------------------------------------------------------
// A server process started with fork + exec. It dies with the benchmark (PR_SET_PDEATHSIG), and the destructor
// stops it if stop() was not called, so no run leaves a process behind.
class Child {
public:
	// argv[0] is the executable's path; the child's stdout and stderr are appended to `log_path`. Throws if it
	// cannot be executed.
	Child(std::string what, std::vector<std::string> argv, Placement placement, const std::string& log_path);
	~Child();
	Child(const Child&) = delete;
	Child& operator=(const Child&) = delete;

	pid_t pid() const { return pid_; }
	const std::string& what() const { return what_; }
	Clock::time_point spawned() const { return spawned_; }

	// The wait status if the process has exited (reaps it), without blocking.
	std::optional<int> exited();
	// SIGTERM, then waitpid; SIGKILL if it has not exited after `grace`. Returns the wait status.
	int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

	// utime + stime of all its threads so far (10 ms tick resolution), from /proc/<pid>/stat.
	double cpu_seconds() const;
	// VmRSS from /proc/<pid>/status.
	uint64_t rss_bytes() const;
	// The last lines of its log, for error messages.
	std::string log_tail(std::size_t lines = 5) const;

private:
	std::string what_;
	std::vector<std::string> argv_;
	std::string log_path_;
	pid_t pid_ = -1;
	bool reaped_ = false;
	int status_ = 0;
	Clock::time_point spawned_;
};

// "exit 0", "exit 3", "signal 9".
std::string describe_wait_status(int status);

// CPU time (user + system) of this process so far, all threads.
double self_cpu_seconds();

// --- background load -------------------------------------------------------------------------------------------
// The machine may be shared: CPU time used by processes other than the benchmark and its servers, time the
// hypervisor took away (steal), and the disk traffic of the whole machine, over one section of the run, show
// whether its figures can be trusted. A flush waits for everything else queued on the disk.
struct LoadSnapshot {
	double busy = 0, steal = 0;  // all CPUs, seconds (/proc/stat)
	double ours = 0;             // this process + its reaped children, seconds (getrusage)
	uint64_t sectors_written = 0, flushes = 0;  // all block devices except loop, ram and zram (/proc/diskstats)
	Clock::time_point at;
};
LoadSnapshot load_snapshot();
struct Background {
	double others_pct = 0;     // CPU time of other processes, in % of all CPUs' time
	double steal_pct = 0;      // steal, in % of all CPUs' time
	double disk_write_mib = 0;  // written to disk by the whole machine, including the daemons under test
	uint64_t disk_flushes = 0;  // flush requests completed, ditto
};
// Children must have been reaped by `to` for their CPU time to count as ours.
Background background_between(const LoadSnapshot& from, const LoadSnapshot& to);

// --- machine ---------------------------------------------------------------------------------------------------
struct FileUsage {
	uint64_t apparent = 0;   // st_size
	uint64_t allocated = 0;  // st_blocks * 512
};
FileUsage file_usage(const std::string& path);
std::string filesystem_type(const std::string& path);  // "ext4", "tmpfs", ... or the magic number in hex
std::string cpu_model();
std::string kernel_release();

}  // namespace el3d::bench
