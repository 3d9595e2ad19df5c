// el3client over gRPC: one bidirectional Session stream per CPU, each on its own connection so
// that CPUs run in parallel.
#include "backend.hpp"

#include "channel.hpp"
#include "el3_codes.hpp"
#include "el3d/fastpath/handoff.hpp"
#include "el3d/fastpath/mailbox.hpp"
#include "el3d/util/numbers.hpp"
#include "el3d/v1/monitor.grpc.pb.h"

#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace el3d::client {

namespace {

std::shared_ptr<grpc::Channel> make_channel(const std::string& socket)
{
	return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
	                                 session_channel_arguments());
}

// The return code of a failed handshake. Once a session is open, every failure is EL3_ERR_SESSION.
int code_of(const grpc::Status& s)
{
	switch (s.error_code()) {
	case grpc::StatusCode::ALREADY_EXISTS:
	case grpc::StatusCode::FAILED_PRECONDITION: return EL3_ERR_REFUSED;
	case grpc::StatusCode::INVALID_ARGUMENT:
	case grpc::StatusCode::OUT_OF_RANGE: return EL3_ERR_INVALID;
	case grpc::StatusCode::UNAVAILABLE:
	case grpc::StatusCode::DEADLINE_EXCEEDED: return EL3_ERR_CONNECT;
	case grpc::StatusCode::ABORTED: return EL3_ERR_ABORTED;
	case grpc::StatusCode::RESOURCE_EXHAUSTED: return EL3_ERR_BUSY;
	default: return EL3_ERR_SESSION;
	}
}

NsMemoryMap ns_map(const v1::NsMemoryMap& m)
{
	NsMemoryMap out{m.path(), m.id(), {}};
	for (const auto& w : m.windows())
		out.windows.push_back({w.base(), w.size(), w.file_offset()});
	return out;
}

std::string ms(std::chrono::milliseconds t) { return std::to_string(t.count()) + " ms"; }

// Cancels a call (TryCancel on its context) unless disarmed within `limit`. A stream's own
// deadline would cover its whole life; this bounds one step of it (the handshake, the close).
class Watchdog {
public:
	Watchdog(grpc::ClientContext& ctx, std::chrono::milliseconds limit)
	    : ctx_(ctx), thread_([this, limit] {
		      std::unique_lock l(mu_);
		      if (!cv_.wait_for(l, limit, [this] { return disarmed_; })) {
			      fired_ = true;
			      ctx_.TryCancel();
		      }
	      })
	{
	}
	~Watchdog() { disarm(); }
	Watchdog(const Watchdog&) = delete;
	Watchdog& operator=(const Watchdog&) = delete;
	// Stops the watchdog; true if it had already fired.
	bool disarm()
	{
		{
			std::lock_guard l(mu_);
			disarmed_ = true;
		}
		cv_.notify_all();
		if (thread_.joinable())
			thread_.join();
		return fired_;
	}

private:
	grpc::ClientContext& ctx_;
	std::mutex mu_;
	std::condition_variable cv_;
	bool disarmed_ = false, fired_ = false;
	std::thread thread_;  // last: starts once the rest is initialised
};

class GrpcSession final : public CpuSession {
public:
	GrpcSession(const std::string& socket, unsigned c, int k, bool serve_rmi, bool fastpath,
	            std::chrono::milliseconds timeout)
	    : channel_(make_channel(socket)), stub_(v1::Monitor::NewStub(channel_)), timeout_(timeout)
	{
		cpu = c;
		const auto t0 = std::chrono::steady_clock::now();
		Watchdog dog(ctx_, timeout);
		stream_ = stub_->Session(&ctx_);
		v1::SessionRequest req;
		auto* en = req.mutable_enter();
		en->set_cpu(c);
		en->set_kind(static_cast<v1::EntryKind>(k));
		en->set_client("el3client pid " + std::to_string(::getpid()));
		en->set_serve_rmi(serve_rmi);
		en->set_fastpath(fastpath);
		v1::SessionResponse resp;
		const bool ok = stream_->Write(req) && stream_->Read(&resp) && resp.has_entered();
		if (dog.disarm()) {
			broken_ = true;
			stream_->Finish();
			throw Error(EL3_ERR_CONNECT, "cannot enter cpu " + std::to_string(c) + ": el3d at " + socket +
			                                 " did not answer the session handshake within " + ms(timeout) +
			                                 " (is it stopped?); EL3D_ENTER_TIMEOUT_MS sets the limit");
		}
		if (!ok) {
			broken_ = true;
			grpc::Status st = stream_->Finish();
			throw Error(st.ok() ? EL3_ERR_SESSION : code_of(st),
			            "cannot enter cpu " + std::to_string(c) + ": " +
			                (st.ok() ? std::string("el3d closed the session") : st.error_message()));
		}
		const auto& e = resp.entered().entry();
		entry = {e.x0(), e.x1(), e.x2(), e.x3(), e.x4(), e.x5(), e.x6(), e.x7()};
		kind = e.kind() == v1::ENTRY_KIND_WARM ? 2 : 1;
		activation = e.activation();
		const auto& m = resp.entered().carveout();
		carveout = {m.path(), m.id(), m.file_offset(), m.base(), m.size()};
		ns = ns_map(resp.entered().ns_memory());
		if (resp.entered().has_fastpath()) {
			const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
			                                std::chrono::steady_clock::now() - t0);
			switch_to_fastpath(resp.entered().fastpath(), std::max(left, std::chrono::milliseconds(1)), socket);
		}
	}
	~GrpcSession() override
	{
		if (fast_ && !broken_)
			fast_->leave();  // el3d ends the session at once; the stream's close below then completes
		if (stream_ && !broken_) {
			// A clean close, bounded: a stopped daemon must not hang el3_cpu_leave().
			Watchdog dog(ctx_, timeout_);
			stream_->WritesDone();
			stream_->Finish();
		}
	}
	void smc(uint64_t fid, const uint64_t* a, uint64_t* out) override
	{
		if (broken_)
			throw Error(EL3_ERR_SESSION, "SMC " + hex(fid) + " on cpu " + std::to_string(cpu) +
			                                 ": the session is closed: " + why_);
		if (fast_) {
			smc_fast(fid, a, out);
			return;
		}
		v1::SessionRequest req;
		auto* s = req.mutable_smc();
		s->set_fid(fid);
		s->set_x1(a[0]), s->set_x2(a[1]), s->set_x3(a[2]), s->set_x4(a[3]), s->set_x5(a[4]), s->set_x6(a[5]);
		s->set_x7(a[6]), s->set_x8(a[7]), s->set_x9(a[8]), s->set_x10(a[9]), s->set_x11(a[10]), s->set_x12(a[11]);
		if (!stream_->Write(req) || !stream_->Read(&resp_) || !resp_.has_smc())
			fail("SMC " + hex(fid) + " on cpu " + std::to_string(cpu));
		const auto& r = resp_.smc();
		out[0] = r.x0(), out[1] = r.x1(), out[2] = r.x2(), out[3] = r.x3();
		out[4] = r.x4(), out[5] = r.x5(), out[6] = r.x6(), out[7] = r.x7();
	}
	void cancel() override
	{
		cancelled_ = true;
		if (fast_)
			fast_->wake();
		ctx_.TryCancel();
	}

private:
	// Claims the mailbox el3d offered and moves the session's SMCs to it. Anything that keeps the
	// mailbox from working leaves the session on its stream, silently; only the stream breaking
	// during the switch is an error, as in the handshake.
	void switch_to_fastpath(const v1::FastPathOffer& offer, std::chrono::milliseconds timeout, const std::string& socket)
	{
		std::unique_ptr<fastpath::ClientMailbox> mb;
		UniqueFd conn;
		try {
			fastpath::Claimed got = fastpath::claim(offer.socket(), offer.token(), timeout);
			mb = std::make_unique<fastpath::ClientMailbox>(std::move(got.mailbox), cpu);
			conn = std::move(got.connection);
		} catch (const std::exception&) {
			return;  // another host, another mount namespace, a stopped daemon: the stream it is
		}
		Watchdog dog(ctx_, timeout);
		v1::SessionRequest req;
		req.mutable_fastpath();
		v1::SessionResponse resp;
		const bool ok = stream_->Write(req) && stream_->Read(&resp) && resp.has_fastpath();
		if (dog.disarm() || !ok) {
			broken_ = true;
			grpc::Status st = stream_->Finish();
			throw Error(EL3_ERR_CONNECT, "cannot enter cpu " + std::to_string(cpu) + ": el3d at " + socket +
			                                 " did not answer the switch to the fast path" +
			                                 (st.ok() ? std::string() : ": " + st.error_message()));
		}
		if (!resp.fastpath().on())
			return;
		fast_ = std::move(mb);
		conn_ = std::move(conn);
		// el3d's death wakes a call waiting in the mailbox at once.
		try {
			watch_ = std::make_unique<fastpath::HangupWatch>(conn_.get(), [m = fast_.get()] { m->wake(); });
		} catch (const std::exception&) {
			// without it, the wait still notices within a slice
		}
	}
	void smc_fast(uint64_t fid, const uint64_t* a, uint64_t* out)
	{
		const int conn = conn_.get();
		const auto outcome = fast_->call(fid, a, out, [this, conn] {
			return cancelled_.load() || fastpath::peer_gone(conn);
		});
		if (outcome == fastpath::ClientMailbox::Outcome::Answered)
			return;
		// el3d ended the session (its status says why), went away, or another thread closed it.
		Watchdog dog(ctx_, timeout_);  // the status is there at once unless el3d is stopped
		fail("SMC " + hex(fid) + " on cpu " + std::to_string(cpu));
	}
	// The stream broke during the session: whatever the status (UNAVAILABLE when the daemon died),
	// that is EL3_ERR_SESSION.
	[[noreturn]] void fail(const std::string& what)
	{
		broken_ = true;
		grpc::Status st = stream_->Finish();
		if (cancelled_)
			why_ = "the session was closed by el3_cpu_leave() or el3_disconnect() on another thread";
		else
			why_ = st.ok() ? std::string("el3d closed the session") : st.error_message();
		throw Error(EL3_ERR_SESSION, what + ": " + why_);
	}
	std::shared_ptr<grpc::Channel> channel_;
	std::unique_ptr<v1::Monitor::Stub> stub_;
	std::chrono::milliseconds timeout_;
	grpc::ClientContext ctx_;
	std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
	v1::SessionResponse resp_;
	bool broken_ = false;
	std::atomic<bool> cancelled_{false};
	std::string why_;
	std::unique_ptr<fastpath::ClientMailbox> fast_;  // set once the session switched to it
	UniqueFd conn_;                                  // the mailbox's hand-over connection: el3d's liveness
	std::unique_ptr<fastpath::HangupWatch> watch_;   // wakes fast_ when conn_ hangs up (destroyed first)
};

class GrpcBackend final : public Backend {
public:
	GrpcBackend(const std::string& socket, bool fastpath) : socket_(socket), fastpath_(fastpath)
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
		info_.shared_base = s.shared_base();
		info_.shared_size = s.shared_size();
		info_.carveout = {s.carveout_path(), s.carveout_id(), s.image_offset(), s.rmm_base(),
		                  s.shared_base() + s.shared_size() - s.rmm_base()};
		info_.ns = ns_map(s.ns_memory());
	}
	const Info& info() const override { return info_; }
	std::unique_ptr<CpuSession> enter(unsigned cpu, int kind, bool serve_rmi, std::chrono::milliseconds timeout) override
	{
		return std::make_unique<GrpcSession>(socket_, cpu, kind, serve_rmi, fastpath_, timeout);
	}
	bool rmi(unsigned cpu, uint64_t fid, const uint64_t* a, bool fail_fast, std::chrono::milliseconds timeout,
	         uint64_t* out) override
	{
		std::call_once(rmi_stub_once_, [this] { rmi_stub_ = v1::Monitor::NewStub(make_channel(socket_)); });
		v1::RmiRequest req;
		req.set_cpu(cpu);
		req.set_fid(fid);
		req.set_x1(a[0]), req.set_x2(a[1]), req.set_x3(a[2]), req.set_x4(a[3]), req.set_x5(a[4]), req.set_x6(a[5]);
		req.set_x7(a[6]), req.set_x8(a[7]), req.set_x9(a[8]), req.set_x10(a[9]), req.set_x11(a[10]), req.set_x12(a[11]);
		req.set_fail_fast(fail_fast);
		grpc::ClientContext ctx;
		if (timeout.count() > 0)
			ctx.set_deadline(std::chrono::system_clock::now() + timeout);
		v1::RmiResponse r;
		const grpc::Status st = rmi_stub_->Rmi(&ctx, req, &r);
		if (!st.ok()) {
			int code = code_of(st);
			if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
				code = EL3_ERR_TIMEOUT;
			else if (st.error_code() == grpc::StatusCode::UNAVAILABLE && st.error_message().find("fail_fast") != std::string::npos)
				code = EL3_ERR_BUSY;
			throw Error(code, "RMI " + hex(fid) + " on cpu " + std::to_string(cpu) + ": " + st.error_message());
		}
		out[0] = r.x0(), out[1] = r.x1(), out[2] = r.x2(), out[3] = r.x3();
		out[4] = r.x4(), out[5] = r.x5(), out[6] = r.x6(), out[7] = r.x7();
		return r.forwarded();
	}

private:
	std::string socket_;
	bool fastpath_;
	Info info_;
	std::once_flag rmi_stub_once_;
	std::unique_ptr<v1::Monitor::Stub> rmi_stub_;  // RMIs: a channel of their own, made on first use
};

}  // namespace

std::unique_ptr<Backend> connect_daemon(const std::string& socket, bool fastpath)
{
	return std::make_unique<GrpcBackend>(socket, fastpath);
}

}  // namespace el3d::client
