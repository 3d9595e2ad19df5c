// el3d_bench_echo: a bare gRPC server with el3d's Smc signature, the baseline el3d_bench compares the daemon with.
// Usage: el3d_bench_echo SOCKET_PATH. Serves until SIGTERM, SIGINT or SIGHUP, then exits 0.
//
// It is set up like the daemon (sync Service, default thread pool, the same message size limits) and answers what
// the daemon answers to an unknown FID, so the only difference left is the work el3d does per call.
#include "echo.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

namespace el3d::bench {
namespace {

constexpr uint64_t kSmcUnk = 0xFFFFFFFFFFFFFFFF;

class EchoService final : public Echo::Service {
public:
	grpc::Status Smc(grpc::ServerContext*, const v1::SmcRequest* req, v1::SmcResponse* resp) override
	{
		resp->set_x0(kSmcUnk);
		resp->set_x1(req->x1());
		resp->set_x2(req->x2());
		resp->set_x3(req->x3());
		resp->set_x4(req->x4());
		resp->set_x5(req->x5());
		resp->set_x6(req->x6());
		resp->set_x7(req->x7());
		return grpc::Status::OK;
	}

	// The same loop as the daemon's Session, minus the monitor: enter, then one answer per smc.
	grpc::Status Session(grpc::ServerContext*,
	                     grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) override
	{
		v1::SessionRequest req;
		if (!stream->Read(&req))
			return grpc::Status::OK;
		if (!req.has_enter())
			return {grpc::StatusCode::INVALID_ARGUMENT, "the first message of a session must be `enter`"};
		v1::SessionResponse out;
		out.mutable_entered()->mutable_entry()->set_x0(req.enter().cpu());
		if (!stream->Write(out))
			return grpc::Status::OK;
		v1::SessionResponse resp;
		while (stream->Read(&req)) {
			if (!req.has_smc())
				return {grpc::StatusCode::INVALID_ARGUMENT, "later messages must be `smc`"};
			Smc(nullptr, &req.smc(), resp.mutable_smc());
			if (!stream->Write(resp))
				break;
		}
		return grpc::Status::OK;
	}
};

int run(const std::string& socket_path)
{
	// Block the stop signals before gRPC starts its threads, so they inherit the mask and only sigwait() below
	// sees them.
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, nullptr);

	EchoService service;
	grpc::ServerBuilder builder;
	builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
	builder.RegisterService(&service);
	builder.SetMaxReceiveMessageSize(8 << 20);  // as the daemon
	builder.SetMaxSendMessageSize(8 << 20);
	std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
	if (!server) {
		std::fprintf(stderr, "el3d_bench_echo: cannot serve on unix:%s\n", socket_path.c_str());
		return 3;
	}
	int sig = 0;
	sigwait(&stop, &sig);
	server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
	server->Wait();
	return 0;
}

}  // namespace
}  // namespace el3d::bench

int main(int argc, char** argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: el3d_bench_echo SOCKET_PATH\n");
		return 1;
	}
	return el3d::bench::run(argv[1]);
}
