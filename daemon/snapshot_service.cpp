// The snapshot calls: SaveSnapshot, RestoreSnapshot, ListSnapshots, RemoveSnapshot (docs/snapshots.md).
// The copy is made with the monitor quiesced (no SMC half-applied); a restore goes through the monitor,
// which reloads what it derived from the file, and then the NS memory file records the restored epoch.
#include "service.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

using grpc::Status;
using grpc::StatusCode;

namespace {

StatusCode code_of(snapshot::Refusal r)
{
	switch (r) {
	case snapshot::Refusal::BadName: return StatusCode::INVALID_ARGUMENT;
	case snapshot::Refusal::NotFound: return StatusCode::NOT_FOUND;
	case snapshot::Refusal::Exists: return StatusCode::ALREADY_EXISTS;
	case snapshot::Refusal::Corrupt: return StatusCode::DATA_LOSS;
	case snapshot::Refusal::Io: break;
	}
	return StatusCode::INTERNAL;
}

void to_proto(const snapshot::Info& i, const std::string& path, v1::SnapshotInfo& out)
{
	out.set_name(i.name);
	out.set_path(path);
	out.set_created_unix_ns(static_cast<int64_t>(i.created_unix_ns));
	out.set_note(i.note);
	out.set_source_uuid(i.source_uuid);
	out.set_platform(i.platform);
	out.set_epoch(i.epoch);
	out.set_activation(i.activation);
	out.set_regions(i.regions);
	out.set_bytes_used(i.bytes_used);
	out.set_disk_bytes(i.disk_bytes);
	out.set_file_size(i.file_size);
	out.set_el3d_version(i.el3d_version);
	out.set_copy(i.copy_method);
}

const Status kNoStore{StatusCode::FAILED_PRECONDITION, "this el3d keeps no snapshots"};

}  // namespace

Status MonitorService::SaveSnapshot(grpc::ServerContext* ctx, const v1::SaveSnapshotRequest* req, v1::SnapshotInfo* resp)
{
	if (snaps_ == nullptr)
		return kNoStore;
	std::lock_guard lock(snap_mu_);
	try {
		(void)snaps_->path_of(req->name());  // a bad name is refused before the monitor is quiesced
		snapshot::Info info;
		info.note = req->note();
		info.el3d_version = EL3D_VERSION;
		// Under the monitor's lock: every SMC, boot entry, memory write and reset either finished or has
		// not started. Its pages are in the page cache that the copy reads (a reflink flushes them
		// first), so no msync is needed for a consistent copy, whatever the durability mode.
		monitor_.quiesce([&] {
			const Carveout& c = monitor_.carveout();
			info.source_path = c.path();
			info.source_uuid = c.uuid_string();
			info.platform = c.geometry().platform;
			info.epoch = c.epoch();
			// From the committed state document (the monitor's own accessors take the lock held here).
			if (auto b = c.state().find("boot"); b != c.state().end() && b->is_object())
				info.activation = b->value("activation", uint64_t{1});
			info.regions = c.log().size();
			for (const auto& r : c.log())
				info.bytes_used += r.size;
			info = snaps_->save(req->name(), c.path(), info, req->force());
		});
		to_proto(info, snaps_->path_of(info.name), *resp);
		spdlog::info("snapshot '{}' saved ({}, {} regions, {} bytes on disk) for {}", info.name, info.copy_method,
		             info.regions, info.disk_bytes, ctx->peer());
		record(trace::Kind::Snapshot, 0, "save " + info.name);
	} catch (const snapshot::SnapshotError& e) {
		return {code_of(e.refusal()), e.what()};
	} catch (const std::exception& e) {
		spdlog::error("snapshot save failed: {}", e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
	return Status::OK;
}

Status MonitorService::RestoreSnapshot(grpc::ServerContext* ctx, const v1::RestoreSnapshotRequest* req,
                                       v1::SnapshotInfo* resp)
{
	if (snaps_ == nullptr)
		return kNoStore;
	std::lock_guard lock(snap_mu_);
	std::lock_guard reset_lock(reset_mu_);  // a restore moves the epoch, as a reset does
	try {
		const snapshot::Info info = snaps_->get(req->name());
		const std::string path = snaps_->path_of(req->name());
		spdlog::warn("restoring snapshot '{}' for {}{}", info.name, ctx->peer(), req->force() ? " (forced)" : "");
		monitor_.restore(path, req->force());
		// The NS memory file is not part of a snapshot: its content stays, now under the restored epoch (else
		// the next start would take it for the content of an unfinished reset and zero it).
		if (ns_ != nullptr)
			ns_->set_epoch(monitor_.carveout().epoch());
		to_proto(info, path, *resp);
		record(trace::Kind::Snapshot, 0, "restore " + info.name + (req->force() ? " (forced)" : ""));
	} catch (const snapshot::SnapshotError& e) {
		return {code_of(e.refusal()), e.what()};
	} catch (const RestoreRefused& e) {
		return {StatusCode::FAILED_PRECONDITION, e.what()};
	} catch (const CarveoutError& e) {
		if (e.refusal() == CarveoutRefusal::GeometryMismatch)
			return {StatusCode::FAILED_PRECONDITION, e.what()};
		spdlog::error("restore failed: {}", e.what());
		return {StatusCode::INTERNAL, e.what()};
	} catch (const std::exception& e) {
		spdlog::error("restore failed: {} (if it passed its commit point, the next start of el3d finishes it)", e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
	return Status::OK;
}

Status MonitorService::ListSnapshots(grpc::ServerContext*, const v1::ListSnapshotsRequest*, v1::SnapshotList* resp)
{
	if (snaps_ == nullptr)
		return kNoStore;
	std::lock_guard lock(snap_mu_);
	try {
		resp->set_dir(snaps_->dir());
		for (const auto& i : snaps_->list())
			to_proto(i, snaps_->path_of(i.name), *resp->add_snapshots());
	} catch (const std::exception& e) {
		return {StatusCode::INTERNAL, e.what()};
	}
	return Status::OK;
}

Status MonitorService::RemoveSnapshot(grpc::ServerContext* ctx, const v1::RemoveSnapshotRequest* req,
                                      v1::RemoveSnapshotResponse*)
{
	if (snaps_ == nullptr)
		return kNoStore;
	std::lock_guard lock(snap_mu_);
	try {
		snaps_->remove(req->name());
		spdlog::info("snapshot '{}' removed for {}", req->name(), ctx->peer());
		record(trace::Kind::Snapshot, 0, "remove " + req->name());
	} catch (const snapshot::SnapshotError& e) {
		return {code_of(e.refusal()), e.what()};
	} catch (const std::exception& e) {
		return {StatusCode::INTERNAL, e.what()};
	}
	return Status::OK;
}

}  // namespace el3d
