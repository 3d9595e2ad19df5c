// Session: one CPU of an RMM instance, from its entry to its end. Its SMCs come over the stream or,
// once the client has switched to it, through the shared-memory mailbox (src/fastpath); either way
// each one is served by session_smc(), so they behave the same.
#include "service.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/worldswitch/ports.hpp"
#include "proto_regs.hpp"
#include "state_proto.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

using grpc::Status;
using grpc::StatusCode;

namespace {

// The name a session's client gives itself, fit for one log line: printable ASCII only, at most
// 120 characters (a client could send megabytes, or newlines that forge log lines).
std::string client_name(const v1::EnterRequest& en, const grpc::ServerContext& ctx)
{
	const std::string& raw = en.client().empty() ? ctx.peer() : en.client();
	std::string out;
	for (char ch : raw.substr(0, 120))
		out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
	if (raw.size() > 120)
		out += "...";
	return out;
}

}  // namespace

void MonitorService::set_fastpath(fastpath::Listener* l) { fastpath_ = l; }

Status MonitorService::Session(grpc::ServerContext* ctx,
                               grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream)
{
	v1::SessionRequest req;
	if (!stream->Read(&req))
		return Status::OK;
	if (!req.has_enter())
		return {StatusCode::INVALID_ARGUMENT, "the first message of a session must be `enter`"};
	const v1::EnterRequest& en = req.enter();
	const uint32_t cpu = en.cpu();
	const std::string client = client_name(en, *ctx);
	try {
		monitor_.attach(cpu);
	} catch (const SessionConflict& e) {
		spdlog::warn("session from {} refused: {}", client, e.what());
		return {StatusCode::ALREADY_EXISTS, e.what()};
	} catch (const EntryRefused& e) {
		return {StatusCode::INVALID_ARGUMENT, e.what()};
	} catch (const std::exception& e) {
		spdlog::error("session from {} for cpu{}: {}", client, cpu, e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
	// Released however the session ends (detach() never throws, so this destructor cannot end
	// el3d even if the carveout file cannot record the release).
	struct Detach {
		MonitorService& s;
		uint32_t cpu;
		std::string client;
		~Detach()
		{
			s.monitor_.detach(cpu);
			s.record(trace::Kind::SessionClose, cpu, client);
		}
	} detach{*this, cpu, client};
	spdlog::info("cpu{} session opened by {}", cpu, client);
	// Recorded before the entry it makes, in the order the monitor saw them (what a replay re-issues).
	record(trace::Kind::SessionOpen, cpu, client + (en.serve_rmi() ? ", serving RMIs" : ""));

	v1::SessionResponse out;
	v1::Entered* entered = out.mutable_entered();
	if (Status s = enter(cpu, en.kind(), en.config(), en.config_format(), entered->mutable_entry()); !s.ok())
		return s;
	const Carveout& c = monitor_.carveout();
	v1::CarveoutMap* map = entered->mutable_carveout();
	map->set_path(c.path());
	map->set_file_offset(c.image_offset());
	map->set_base(c.geometry().rmm_base);
	map->set_size(c.geometry().image_size());
	map->set_id(c.uuid_string());
	if (ns_ != nullptr)
		to_proto(ns_->info(), *entered->mutable_ns_memory());
	// The shared-memory mailbox, offered when asked for; made before the entry is answered so that
	// the client can claim it at once. Unclaimed, it goes with the session.
	FastPath fp;
	if (en.fastpath() && fastpath_ != nullptr) {
		try {
			fp.mailbox = std::make_unique<fastpath::ServerMailbox>(cpu);
			fp.offer = fastpath_->offer(fp.mailbox->fd());
			v1::FastPathOffer* o = entered->mutable_fastpath();
			o->set_socket(fastpath_->path());
			o->set_token(fp.offer->token());
			o->set_version(1);
		} catch (const std::exception& e) {
			spdlog::warn("cpu{}: no fast path for this session: {}", cpu, e.what());
			fp = {};
		}
	}
	if (!stream->Write(out))
		return Status::OK;

	return serve(ctx, stream, cpu, en.serve_rmi(), fp);
}

Status MonitorService::session_smc(uint32_t cpu, ws::RealmPort* port, uint64_t fid, const SmcArgs& x, SmcResult& o,
                                   const ws::GaveUp& gone, bool& ended)
{
	ended = false;
	if (port == nullptr)
		return dispatch(cpu, fid, x, o);
	try {
		ended = !port->smc(fid, x, o, gone);  // the session ended while its RMM waited for an RMI
		return Status::OK;
	} catch (const SessionKilled& e) {
		return {StatusCode::ABORTED, e.what()};
	} catch (const std::exception& e) {
		spdlog::error("cpu{} {}: {}", cpu, fid_name(fid), e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
}

Status MonitorService::serve(grpc::ServerContext* ctx,
                             grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream, uint32_t cpu,
                             bool serve_rmi, FastPath& fp)
{
	// serve_rmi: this RMM is the Realm end of the world switch on its CPU until the session ends.
	std::optional<ws::RealmPort> port;
	if (serve_rmi) {
		port.emplace(monitor_, world_, cpu);
		spdlog::info("cpu{} serves RMIs: its RMM_BOOT_COMPLETE and RMM_RMI_REQ_COMPLETE return with the next RMI", cpu);
	}
	ws::RealmPort* p = port ? &*port : nullptr;
	const ws::GaveUp gone = [ctx] { return ctx->IsCancelled(); };
	v1::SessionRequest req;
	v1::SessionResponse resp;
	while (stream->Read(&req)) {
		if (req.has_fastpath()) {
			// The client claimed the mailbox (or says so): from here on its SMCs come through it.
			UniqueFd conn = fp.offer ? fp.offer->take_connection() : UniqueFd{};
			v1::FastPathSwitched* sw = resp.mutable_fastpath();
			sw->set_on(conn.valid());
			if (!conn.valid())
				sw->set_reason(fp.offer ? "the mailbox was not claimed" : "no mailbox was offered");
			if (!stream->Write(resp))
				break;
			if (conn.valid()) {
				fp.offer.reset();
				spdlog::info("cpu{} session on the shared-memory fast path", cpu);
				return serve_fastpath(ctx, cpu, p, *fp.mailbox, conn.get());
			}
			continue;
		}
		if (!req.has_smc())
			return {StatusCode::INVALID_ARGUMENT, "a session enters its CPU once; later messages must be `smc`"};
		SmcResult o{};
		bool ended = false;
		if (Status s = session_smc(cpu, p, req.smc().fid(), args_of(req.smc()), o, gone, ended); !s.ok())
			return s;
		if (ended)
			return Status::OK;
		set_regs(resp.mutable_smc(), o);
		if (!stream->Write(resp))
			break;
	}
	return Status::OK;
}

Status MonitorService::serve_fastpath(grpc::ServerContext* ctx, uint32_t cpu, ws::RealmPort* port,
                                      fastpath::ServerMailbox& mb, int conn)
{
	// Whatever ends the session here, the client's call in progress learns it at once.
	struct End {
		fastpath::ServerMailbox& mb;
		~End() { mb.end(); }
	} end{mb};
	// The client is gone when its process died or closed the hand-over connection, when it left
	// through the mailbox, or when gRPC cancelled the session (the daemon stopping, the stream broken).
	const ws::GaveUp gone = [ctx, conn, &mb] {
		return mb.client_left() || fastpath::peer_gone(conn) || ctx->IsCancelled();
	};
	// Its death wakes the wait at once (as the stream's close would), not at the next slice.
	std::optional<fastpath::HangupWatch> watch;
	try {
		watch.emplace(conn, [&mb] { mb.wake(); });
	} catch (const std::exception& e) {
		spdlog::warn("cpu{}: the client's death will be seen within a slice only: {}", cpu, e.what());
	}
	fastpath::ServerMailbox::Call call;
	std::string why;
	for (;;) {
		switch (mb.next(call, gone, why)) {
		case fastpath::ServerMailbox::Next::Call: break;
		case fastpath::ServerMailbox::Next::Invalid:
			spdlog::warn("cpu{} session ended: {}", cpu, why);
			return {StatusCode::INVALID_ARGUMENT, why};
		case fastpath::ServerMailbox::Next::ClientLeft:
		case fastpath::ServerMailbox::Next::Stopped: return Status::OK;
		}
		SmcResult o{};
		bool ended = false;
		if (Status s = session_smc(cpu, port, call.fid, call.x, o, gone, ended); !s.ok())
			return s;
		if (ended)
			return Status::OK;
		mb.answer(o);
	}
}

}  // namespace el3d
