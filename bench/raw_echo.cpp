// el3d_bench_raw_echo: the raw Unix socket echo of el3d_bench's section (f), no gRPC. Usage:
// el3d_bench_raw_echo SOCKET_PATH. Each connection gets a thread that sends back every 64 bytes it
// reads; serves until SIGTERM, SIGINT or SIGHUP, then exits 0.
#include "transfer.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

using el3d::bench::kRawMessage;
using el3d::bench::transfer;

int main(int argc, char** argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: el3d_bench_raw_echo SOCKET_PATH\n");
		return 1;
	}
	sigset_t stop;
	sigemptyset(&stop);
	for (int s : {SIGTERM, SIGINT, SIGHUP})
		sigaddset(&stop, s);
	pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // the threads inherit it; sigwait below takes them
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, argv[1], sizeof(a.sun_path) - 1);
	const int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	::unlink(argv[1]);
	if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 16) != 0) {
		std::fprintf(stderr, "el3d_bench_raw_echo: cannot serve on %s: %s\n", argv[1], std::strerror(errno));
		return 3;
	}
	std::thread([l] {
		for (;;) {
			const int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			std::thread([c] {
				char buf[kRawMessage];
				while (transfer(c, buf, false) && transfer(c, buf, true)) {
				}
				::close(c);
			}).detach();
		}
	}).detach();
	int sig = 0;
	sigwait(&stop, &sig);
	::unlink(argv[1]);
	return 0;
}
