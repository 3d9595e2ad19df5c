#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

extern char** environ;

namespace el3d::test {

namespace {

std::vector<char*> cstrs(const std::vector<std::string>& v)
{
	std::vector<char*> out;
	for (const auto& s : v)
		out.push_back(const_cast<char*>(s.c_str()));
	out.push_back(nullptr);
	return out;
}

// This process's environment with `extra` (NAME=VALUE) replacing or adding variables: getenv()
// takes the first of two entries with one name, so an override must not just be appended.
std::vector<std::string> environment_with(const std::vector<std::string>& extra)
{
	auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
	std::vector<std::string> env;
	for (char** e = environ; *e; ++e) {
		const std::string entry = *e;
		bool replaced = false;
		for (const auto& x : extra)
			replaced = replaced || name_of(x) == name_of(entry);
		if (!replaced)
			env.push_back(entry);
	}
	env.insert(env.end(), extra.begin(), extra.end());
	return env;
}

int decode_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

}  // namespace

ProcResult run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env)
{
	int out[2], err[2];
	if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
		throw std::runtime_error("pipe failed");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	const std::vector<std::string> env = environment_with(extra_env);
	auto a = cstrs(argv);
	auto en = cstrs(env);
	pid_t pid;
	int rc = posix_spawn(&pid, a[0], &fa, nullptr, a.data(), en.data());
	posix_spawn_file_actions_destroy(&fa);
	::close(out[1]);
	::close(err[1]);
	if (rc != 0) {
		::close(out[0]);
		::close(err[0]);
		throw std::runtime_error(std::string("cannot run ") + argv[0] + ": " + std::strerror(rc));
	}
	ProcResult r;
	pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
	int open_fds = 2;
	char buf[4096];
	while (open_fds > 0) {
		if (::poll(fds, 2, 30000) <= 0)
			break;
		for (int i = 0; i < 2; ++i) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				::close(fds[i].fd);
				fds[i].fd = -1;
				--open_fds;
			} else {
				(i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
			}
		}
	}
	for (auto& f : fds)
		if (f.fd >= 0)
			::close(f.fd);
	int status = 0;
	::waitpid(pid, &status, 0);
	r.rc = decode_status(status);
	return r;
}

ProcResult el3ctl(const std::string& socket, const std::vector<std::string>& args)
{
	std::vector<std::string> argv = {EL3CTL_BINARY, "--socket", socket};
	argv.insert(argv.end(), args.begin(), args.end());
	return run(argv);
}

Daemon::Daemon(const TempDir& dir, std::vector<std::string> extra_args, std::string carveout_name)
    : socket(dir.file("el3d.sock")), carveout(dir.file(carveout_name)), args(std::move(extra_args)), dir_(dir)
{
}

Daemon::~Daemon()
{
	if (pid_ > 0) {
		::kill(pid_, SIGKILL);
		int st;
		::waitpid(pid_, &st, 0);
	}
}

void Daemon::spawn()
{
	log_path_ = dir_.file("el3d-" + std::to_string(++spawned_) + ".log");
	std::vector<std::string> argv = {EL3D_BINARY, "--log-level", "debug"};
	if (!default_carveout)
		argv.insert(argv.end(), {"--carveout", carveout});
	if (!default_socket)
		argv.insert(argv.end(), {"--socket", socket});
	argv.insert(argv.end(), args.begin(), args.end());
	const std::vector<std::string> environment = environment_with(env);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	auto a = cstrs(argv);
	auto en = cstrs(environment);
	int rc = posix_spawn(&pid_, a[0], &fa, nullptr, a.data(), en.data());
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		throw std::runtime_error(std::string("cannot start el3d: ") + std::strerror(rc));
	exit_code_ = -1;
}

bool Daemon::running()
{
	if (pid_ <= 0)
		return false;
	int st = 0;
	pid_t r = ::waitpid(pid_, &st, WNOHANG);
	if (r == pid_) {
		exit_code_ = decode_status(st);
		pid_ = -1;
		return false;
	}
	return true;
}

bool Daemon::start(std::chrono::milliseconds timeout)
{
	spawn();
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (std::chrono::steady_clock::now() < deadline) {
		if (!running())
			return false;
		struct stat st {};
		if (::stat(socket.c_str(), &st) == 0) {
			// Ready when el3ctl gets an answer, and it comes from this process (not an old one).
			ProcResult r = run({EL3CTL_BINARY, "--socket", socket, "--timeout", "2", "wait", "--timeout", "1"});
			if (r.rc == 0 && r.out.find("(pid " + std::to_string(pid_) + ")") != std::string::npos)
				return true;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return false;
}

int Daemon::run_to_exit(std::chrono::milliseconds timeout)
{
	spawn();
	return wait(timeout);
}

void Daemon::signal(int sig)
{
	if (pid_ > 0)
		::kill(pid_, sig);
}

int Daemon::wait(std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (std::chrono::steady_clock::now() < deadline) {
		if (!running())
			return exit_code_;
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	return -1;
}

std::string Daemon::log() const { return read_file(log_path_); }

}  // namespace el3d::test
