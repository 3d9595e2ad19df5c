// el3ctl snapshot save | restore | list | rm (docs/snapshots.md).
#include "commands.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace el3d::cli {

namespace {

// A copy of a large carveout without reflink takes time; restores too. The usual deadline is for
// calls that return at once.
std::unique_ptr<grpc::ClientContext> slow_context(const Session& s)
{
	auto ctx = s.context();
	ctx->set_deadline(std::chrono::system_clock::now() + std::max<std::chrono::milliseconds>(s.timeout, std::chrono::minutes(10)));
	return ctx;
}

std::string utc(int64_t unix_ns)
{
	const std::time_t t = static_cast<std::time_t>(unix_ns / 1000000000);
	std::tm tm{};
	::gmtime_r(&t, &tm);
	char buf[32];
	std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

std::string human(uint64_t bytes)
{
	const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = static_cast<double>(bytes);
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		++u;
	}
	std::ostringstream o;
	o << std::fixed << std::setprecision(u == 0 ? 0 : 1) << v << " " << units[u];
	return o.str();
}

nlohmann::json to_json(const v1::SnapshotInfo& i)
{
	return {{"name", i.name()},         {"path", i.path()},
	        {"created", utc(i.created_unix_ns())},
	        {"created_unix_ns", i.created_unix_ns()},
	        {"note", i.note()},         {"source_uuid", i.source_uuid()},
	        {"platform", i.platform()}, {"epoch", i.epoch()},
	        {"activation", i.activation()},
	        {"regions", i.regions()},   {"bytes_used", i.bytes_used()},
	        {"disk_bytes", i.disk_bytes()},
	        {"file_size", i.file_size()},
	        {"el3d_version", i.el3d_version()},
	        {"copy", i.copy()}};
}

}  // namespace

int cmd_snapshot_save(Session& s, const std::string& name, const std::string& note, bool force)
{
	if (!s.connect())
		return kUnreachable;
	v1::SaveSnapshotRequest req;
	req.set_name(name);
	req.set_note(note);
	req.set_force(force);
	v1::SnapshotInfo info;
	auto ctx = slow_context(s);
	grpc::Status st = s.stub->SaveSnapshot(ctx.get(), req, &info);
	if (!st.ok())
		return s.fail(st, "snapshot save");
	*s.out << "snapshot '" << info.name() << "' saved: epoch " << info.epoch() << ", activation " << info.activation()
	       << ", " << info.regions() << " regions (" << human(info.bytes_used()) << "), " << info.copy() << ", "
	       << human(info.disk_bytes()) << " on disk\n  " << info.path() << "\n";
	return kOk;
}

int cmd_snapshot_restore(Session& s, const std::string& name, bool force)
{
	if (!s.connect())
		return kUnreachable;
	v1::RestoreSnapshotRequest req;
	req.set_name(name);
	req.set_force(force);
	v1::SnapshotInfo info;
	auto ctx = slow_context(s);
	grpc::Status st = s.stub->RestoreSnapshot(ctx.get(), req, &info);
	if (!st.ok())
		return s.fail(st, "snapshot restore");
	*s.out << "snapshot '" << info.name() << "' restored: epoch " << info.epoch() << ", activation " << info.activation()
	       << ", " << info.regions() << " regions (taken " << utc(info.created_unix_ns()) << ")\n";
	return kOk;
}

int cmd_snapshot_list(Session& s, bool json)
{
	if (!s.connect())
		return kUnreachable;
	v1::SnapshotList list;
	auto ctx = s.context();
	grpc::Status st = s.stub->ListSnapshots(ctx.get(), v1::ListSnapshotsRequest{}, &list);
	if (!st.ok())
		return s.fail(st, "snapshot list");
	if (json) {
		nlohmann::json out = {{"dir", list.dir()}, {"snapshots", nlohmann::json::array()}};
		for (const auto& i : list.snapshots())
			out["snapshots"].push_back(to_json(i));
		*s.out << out.dump(2) << "\n";
		return kOk;
	}
	*s.out << "snapshots in " << list.dir() << ": " << list.snapshots_size() << "\n";
	if (list.snapshots_size() == 0)
		return kOk;
	*s.out << std::left << std::setw(20) << "NAME" << std::setw(22) << "TAKEN (UTC)" << std::setw(7) << "EPOCH"
	       << std::setw(7) << "ACTIV" << std::setw(8) << "REGIONS" << std::setw(11) << "DISK" << std::setw(13) << "COPY"
	       << "NOTE\n";
	for (const auto& i : list.snapshots())
		*s.out << std::left << std::setw(20) << i.name() << std::setw(22) << utc(i.created_unix_ns()) << std::setw(7)
		       << i.epoch() << std::setw(7) << i.activation() << std::setw(8) << i.regions() << std::setw(11)
		       << human(i.disk_bytes()) << std::setw(13) << i.copy() << i.note() << "\n";
	return kOk;
}

int cmd_snapshot_rm(Session& s, const std::string& name)
{
	if (!s.connect())
		return kUnreachable;
	v1::RemoveSnapshotRequest req;
	req.set_name(name);
	v1::RemoveSnapshotResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->RemoveSnapshot(ctx.get(), req, &resp);
	if (!st.ok())
		return s.fail(st, "snapshot rm");
	*s.out << "snapshot '" << name << "' removed\n";
	return kOk;
}

}  // namespace el3d::cli
