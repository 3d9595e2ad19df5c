// el3client over gRPC: one bidirectional Session stream per CPU, each on its own connection so
// that CPUs run in parallel.
#include "backend.hpp"

#include "channel.hpp"
#include "el3_codes.hpp"
#include "el3d/v1/monitor.grpc.pb.h"

#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <chrono>

namespace el3d::client {

namespace {

std::shared_ptr<grpc::Channel> make_channel(const std::string& socket)
{
	return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
	                                 session_channel_arguments());
}

int code_of(const grpc::Status& s)
{
	switch (s.error_code()) {
	case grpc::StatusCode::ALREADY_EXISTS:
	case grpc::StatusCode::FAILED_PRECONDITION: return EL3_ERR_REFUSED;
	case grpc::StatusCode::INVALID_ARGUMENT:
	case grpc::StatusCode::OUT_OF_RANGE: return EL3_ERR_INVALID;
	case grpc::StatusCode::UNAVAILABLE:
	case grpc::StatusCode::DEADLINE_EXCEEDED: return EL3_ERR_CONNECT;
	default: return EL3_ERR_SESSION;
	}
}

class GrpcSession final : public CpuSession {
public:
	GrpcSession(const std::string& socket, unsigned c, int kind)
	    : channel_(make_channel(socket)), stub_(v1::Monitor::NewStub(channel_))
	{
		cpu = c;
		stream_ = stub_->Session(&ctx_);
		v1::SessionRequest req;
		auto* en = req.mutable_enter();
		en->set_cpu(c);
		en->set_kind(static_cast<v1::EntryKind>(kind));
		en->set_client("el3client pid " + std::to_string(::getpid()));
		v1::SessionResponse resp;
		if (!stream_->Write(req) || !stream_->Read(&resp) || !resp.has_entered())
			fail("cannot enter cpu " + std::to_string(c));
		const auto& e = resp.entered().entry();
		entry = {e.x0(), e.x1(), e.x2(), e.x3(), e.x4(), e.x5(), e.x6(), e.x7()};
	}
	~GrpcSession() override
	{
		if (stream_ && !broken_) {
			stream_->WritesDone();
			stream_->Finish();
		}
	}
	void smc(uint64_t fid, const uint64_t* a, uint64_t* out) override
	{
		if (broken_)
			throw Error(EL3_ERR_SESSION, "the session of cpu " + std::to_string(cpu) + " is closed: " + why_);
		v1::SessionRequest req;
		auto* s = req.mutable_smc();
		s->set_fid(fid);
		s->set_x1(a[0]), s->set_x2(a[1]), s->set_x3(a[2]), s->set_x4(a[3]), s->set_x5(a[4]), s->set_x6(a[5]);
		s->set_x7(a[6]), s->set_x8(a[7]), s->set_x9(a[8]), s->set_x10(a[9]), s->set_x11(a[10]), s->set_x12(a[11]);
		if (!stream_->Write(req) || !stream_->Read(&resp_) || !resp_.has_smc())
			fail("SMC " + std::to_string(fid) + " on cpu " + std::to_string(cpu));
		const auto& r = resp_.smc();
		out[0] = r.x0(), out[1] = r.x1(), out[2] = r.x2(), out[3] = r.x3();
		out[4] = r.x4(), out[5] = r.x5(), out[6] = r.x6(), out[7] = r.x7();
	}

private:
	[[noreturn]] void fail(const std::string& what)
	{
		broken_ = true;
		grpc::Status st = stream_->Finish();
		why_ = st.ok() ? std::string("the daemon closed the session") : st.error_message();
		throw Error(st.ok() ? EL3_ERR_SESSION : code_of(st), what + ": " + why_);
	}
	std::shared_ptr<grpc::Channel> channel_;
	std::unique_ptr<v1::Monitor::Stub> stub_;
	grpc::ClientContext ctx_;
	std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
	v1::SessionResponse resp_;
	bool broken_ = false;
	std::string why_;
};

class GrpcBackend final : public Backend {
public:
	explicit GrpcBackend(const std::string& socket) : socket_(socket)
	{
		struct stat st {};
		if (::stat(socket.c_str(), &st) != 0)
			throw Error(EL3_ERR_CONNECT, "no el3d socket at " + socket + " (is the daemon running?)");
		auto stub = v1::Monitor::NewStub(make_channel(socket));
		grpc::ClientContext ctx;
		ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
		v1::State s;
		grpc::Status status = stub->GetState(&ctx, v1::GetStateRequest{}, &s);
		if (!status.ok())
			throw Error(EL3_ERR_CONNECT, "cannot reach el3d at " + socket + ": " + status.error_message());
		info_.platform = s.platform();
		info_.abi = s.abi();
		info_.interface_version = s.interface_version();
		info_.core_count = s.core_count();
		info_.rmm_base = s.rmm_base();
		info_.carveout_size = s.shared_base() + s.shared_size() - s.rmm_base();
		info_.shared_base = s.shared_base();
		info_.shared_size = s.shared_size();
		info_.carveout_path = s.carveout_path();
		info_.carveout_id = s.carveout_id();
		info_.file_offset = s.image_offset();
	}
	const Info& info() const override { return info_; }
	std::unique_ptr<CpuSession> enter(unsigned cpu, int kind) override
	{
		return std::make_unique<GrpcSession>(socket_, cpu, kind);
	}

private:
	std::string socket_;
	Info info_;
};

}  // namespace

std::unique_ptr<Backend> connect_daemon(const std::string& socket) { return std::make_unique<GrpcBackend>(socket); }

}  // namespace el3d::client
