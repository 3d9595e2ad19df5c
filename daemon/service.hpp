#pragma once
// The el3d.v1.Monitor gRPC service: a thin translation between protobuf messages and the core.
#include "el3d/fastpath/handoff.hpp"
#include "el3d/fastpath/mailbox.hpp"
#include "el3d/monitor/monitor.hpp"
#include "el3d/nsmem/nsmem.hpp"
#include "el3d/snapshot/store.hpp"
#include "el3d/v1/monitor.grpc.pb.h"
#include "el3d/trace/recorder.hpp"
#include "el3d/trace/trace.hpp"
#include "el3d/worldswitch/ports.hpp"
#include "el3d/worldswitch/world_switch.hpp"

#include <mutex>

namespace el3d {

inline constexpr uint64_t kMaxMemoryTransfer = 4u << 20;  // bytes per ReadMemory/WriteMemory

class MonitorService final : public v1::Monitor::Service {
public:
	// `ns`: the NS memory file of the monitor's carveout (null: none), zeroed by Reset with the carveout.
	explicit MonitorService(Monitor& monitor, NsMemory* ns = nullptr)
	    : monitor_(monitor), ns_(ns), world_(monitor.geometry().core_count), recorder_(tracer_)
	{
		monitor_.set_observer(&recorder_);
	}
	~MonitorService() override { monitor_.set_observer(nullptr); }

	// The SMC trace (--trace, --trace-ring, SetTrace, Trace).
	trace::Tracer& tracer() { return tracer_; }
	// The trace's start event: how el3d is set up, what a replay builds from (`created`: el3d created
	// its carveout file as it started). Recorded at start and whenever SetTrace opens a file.
	void record_start(bool created);
	// The snapshot store of the monitor's carveout (null: the snapshot RPCs answer UNAVAILABLE).
	void set_snapshots(snapshot::Store* s) { snaps_ = s; }
	// Where sessions' shared-memory mailboxes are handed over (null: sessions use their stream only;
	// --no-fastpath). Set before serving.
	void set_fastpath(fastpath::Listener* l);

	grpc::Status Smc(grpc::ServerContext*, const v1::SmcRequest*, v1::SmcResponse*) override;
	grpc::Status AllocateMemory(grpc::ServerContext*, const v1::AllocateMemoryRequest*,
	                            v1::AllocateMemoryResponse*) override;
	grpc::Status ReserveMemory(grpc::ServerContext*, const v1::ReserveMemoryRequest*, v1::ReserveMemoryResponse*) override;
	grpc::Status GetState(grpc::ServerContext*, const v1::GetStateRequest*, v1::State*) override;
	grpc::Status Boot(grpc::ServerContext*, const v1::BootRequest*, v1::BootResponse*) override;
	grpc::Status Session(grpc::ServerContext*,
	                     grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) override;
	grpc::Status Reset(grpc::ServerContext*, const v1::ResetRequest*, v1::ResetResponse*) override;
	grpc::Status ReadMemory(grpc::ServerContext*, const v1::ReadMemoryRequest*, v1::ReadMemoryResponse*) override;
	grpc::Status WriteMemory(grpc::ServerContext*, const v1::WriteMemoryRequest*, v1::WriteMemoryResponse*) override;
	grpc::Status Rmi(grpc::ServerContext*, const v1::RmiRequest*, v1::RmiResponse*) override;
	grpc::Status Trace(grpc::ServerContext*, const v1::TraceRequest*, grpc::ServerWriter<v1::TraceLine>*) override;
	grpc::Status SetTrace(grpc::ServerContext*, const v1::SetTraceRequest*, v1::TraceConfig*) override;
	// Snapshots (snapshot_service.cpp).
	grpc::Status SaveSnapshot(grpc::ServerContext*, const v1::SaveSnapshotRequest*, v1::SnapshotInfo*) override;
	grpc::Status RestoreSnapshot(grpc::ServerContext*, const v1::RestoreSnapshotRequest*, v1::SnapshotInfo*) override;
	grpc::Status ListSnapshots(grpc::ServerContext*, const v1::ListSnapshotsRequest*, v1::SnapshotList*) override;
	grpc::Status RemoveSnapshot(grpc::ServerContext*, const v1::RemoveSnapshotRequest*, v1::RemoveSnapshotResponse*) override;
	// Fault injection (fault_service.cpp).
	grpc::Status AddFault(grpc::ServerContext*, const v1::AddFaultRequest*, v1::FaultRule*) override;
	grpc::Status ListFaults(grpc::ServerContext*, const v1::ListFaultsRequest*, v1::ListFaultsResponse*) override;
	grpc::Status ClearFaults(grpc::ServerContext*, const v1::ClearFaultsRequest*, v1::ClearFaultsResponse*) override;

private:
	// Boot entry shared by Boot and Session.
	grpc::Status enter(uint32_t cpu, v1::EntryKind kind, const std::string& config, const std::string& format,
	                   v1::BootResponse* resp);
	// The one path from the API into the core. `reason`: what the core logged while serving the call
	// (why it failed), for the response.
	grpc::Status dispatch(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out, std::string* reason = nullptr);
	// A session's mailbox offered to its client (session_service.cpp).
	struct FastPath {
		std::unique_ptr<fastpath::ServerMailbox> mailbox;
		std::shared_ptr<fastpath::Offer> offer;
	};
	// A session's SMCs after its entry, over the stream until the client switches to the mailbox.
	grpc::Status serve(grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream,
	                   uint32_t cpu, bool serve_rmi, FastPath& fp);
	// The same SMCs through the mailbox, until the client leaves or goes, or the session is killed.
	grpc::Status serve_fastpath(grpc::ServerContext* ctx, uint32_t cpu, ws::RealmPort* port, fastpath::ServerMailbox& mb,
	                            int conn);
	// One SMC of a session, whichever way it came: dispatch(), or (serve_rmi) the world switch's
	// port. A Status other than OK ends the session with it; `ended`: the session ended while its RMM
	// waited for an RMI.
	grpc::Status session_smc(uint32_t cpu, ws::RealmPort* port, uint64_t fid, const SmcArgs& x, SmcResult& o,
	                         const ws::GaveUp& gone, bool& ended);
	// Where ReadMemory / WriteMemory go: the carveout image, or a Non-secure window (GPT-checked).
	grpc::Status check_memory(uint64_t addr, uint64_t len, bool& ns) const;
	Monitor& monitor_;
	NsMemory* ns_;
	ws::WorldSwitch world_;  // RMIs from the Non-secure world to the RMMs of sessions with serve_rmi
	trace::Tracer tracer_;
	trace::MonitorRecorder recorder_;
	// A trace event of the service's own (session, RMI, reset), when anything listens.
	void record(trace::Kind kind, uint32_t cpu, const std::string& note);
	std::mutex reset_mu_;  // one Reset at a time: the NS file records the epoch the carveout's reset made
	snapshot::Store* snaps_ = nullptr;
	fastpath::Listener* fastpath_ = nullptr;
	std::mutex snap_mu_;   // one snapshot operation at a time (a save, restore, list or removal)
};

}  // namespace el3d
