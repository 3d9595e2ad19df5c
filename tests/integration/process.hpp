#pragma once
// Test harness, process side: run the real el3d and el3ctl binaries as child processes. Free of
// gRPC so that tests of el3client (which carries its own copy of the API) can use it too.
#include "tempdir.hpp"

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace el3d::test {

struct ProcResult {
	int rc = -1;  // exit code, or 128+signal
	std::string out;
	std::string err;
};

// Run a program to completion with stdin closed and its output captured.
ProcResult run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

// el3ctl with --socket set.
ProcResult el3ctl(const std::string& socket, const std::vector<std::string>& args);

class Daemon {
public:
	// Files live in `dir`: the carveout `carveout_name` and socket "el3d.sock" unless overridden.
	Daemon(const TempDir& dir, std::vector<std::string> extra_args = {}, std::string carveout_name = "c.img");
	~Daemon();

	// Spawn and wait until it answers (el3ctl wait, and the answer comes from this process). False
	// if it exited (see exit_code(), log()).
	bool start(std::chrono::milliseconds timeout = std::chrono::seconds(15));
	// Spawn and wait for it to exit; returns the exit code. For refusal tests.
	int run_to_exit(std::chrono::milliseconds timeout = std::chrono::seconds(15));
	void signal(int sig);
	// Wait for exit; returns the exit code (128+signal if killed), or -1 on timeout.
	int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
	bool running();

	pid_t pid() const { return pid_; }
	int exit_code() const { return exit_code_; }
	std::string log() const;

	std::string socket;
	std::string carveout;
	std::vector<std::string> args;
	// NAME=VALUE added to el3d's environment (e.g. XDG_RUNTIME_DIR).
	std::vector<std::string> env;
	// Leave out --socket / --carveout, so el3d uses its defaults; `socket` and `carveout` should
	// then say where those are (start() waits on `socket`).
	bool default_socket = false;
	bool default_carveout = false;

private:
	void spawn();
	const TempDir& dir_;
	std::string log_path_;
	pid_t pid_ = -1;
	int exit_code_ = -1;
	int spawned_ = 0;
};

}  // namespace el3d::test
