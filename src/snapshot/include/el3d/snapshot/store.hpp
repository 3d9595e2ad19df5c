#pragma once
// Carveout snapshots (docs/snapshots.md): named, complete copies of a carveout file kept in a
// directory, each `NAME/carveout.img` (a carveout file Carveout::open accepts) and `NAME/info.json`
// (what it is a copy of). A snapshot appears whole or not at all: it is built under a temporary name
// (`NAME.tmp-XXXXXX`) and renamed into place; what a killed save or removal leaves behind under a
// temporary name is removed by the next use of the store.
#include "el3d/util/file_copy.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace el3d::snapshot {

inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr int kInfoFormat = 1;  // info.json's "format"

enum class Refusal {
	BadName,   // not a snapshot name (see check_name)
	NotFound,  // no snapshot of that name
	Exists,    // a snapshot of that name exists (save without force)
	Io,        // an operating-system error
	Corrupt,   // a snapshot directory without a readable info.json
};

class SnapshotError : public std::runtime_error {
public:
	SnapshotError(Refusal why, const std::string& msg) : std::runtime_error(msg), why_(why) {}
	Refusal refusal() const { return why_; }

private:
	Refusal why_;
};

// Why `name` is not a snapshot name, or "" if it is one: 1 to 64 characters out of letters, digits,
// '.', '_' and '-', not starting with '.' or '-', and not containing ".tmp-" (the temporary names).
// Names come from clients: nothing else is ever joined to the directory.
std::string check_name(const std::string& name);

// What info.json holds.
struct Info {
	std::string name;
	uint64_t created_unix_ns = 0;  // when the copy was taken
	std::string note;              // the caller's, optional
	std::string source_path;       // the carveout file it is a copy of
	std::string source_uuid;       // that file's id
	std::string platform;
	uint64_t epoch = 0;            // the carveout's reset epoch
	uint64_t activation = 0;       // the RMM activation number at the time
	uint64_t regions = 0;          // allocations in the log
	uint64_t bytes_used = 0;       // bytes of the carveout in regions (sum of their sizes)
	uint64_t disk_bytes = 0;       // blocks the copy takes on disk (shared ones counted: du's view)
	uint64_t file_size = 0;        // the carveout file's length
	std::string el3d_version;
	std::string copy_method;       // "reflink" or "sparse copy"
};
nlohmann::json to_json(const Info& i);
Info info_from_json(const nlohmann::json& j);  // throws std::exception on a malformed document

class Store {
public:
	// The store in directory `dir` (created on first save).
	explicit Store(std::string dir);
	// Where el3d keeps the snapshots of a carveout file unless --snapshot-dir says otherwise.
	static std::string default_dir(const std::string& carveout_path) { return carveout_path + ".snapshots"; }

	const std::string& dir() const { return dir_; }
	// The carveout file of snapshot `name`: <dir>/<name>/carveout.img. Throws SnapshotError (BadName).
	std::string path_of(const std::string& name) const;

	// Copy the carveout file `source` as snapshot `name`: reflink where the file system shares
	// blocks, else a sparse copy; synced, then renamed into place (with force, exchanged atomically
	// with an existing snapshot of that name, which is then removed). The caller keeps `source` from
	// changing meanwhile (Monitor::quiesce). `info`'s name, time, size and copy fields are filled in.
	// Throws SnapshotError (BadName, Exists, Io).
	Info save(const std::string& name, const std::string& source, Info info, bool force);
	// Every snapshot, by name.
	std::vector<Info> list() const;
	// One snapshot. Throws SnapshotError (BadName, NotFound, Corrupt).
	Info get(const std::string& name) const;
	// Remove a snapshot: renamed to a temporary name first (the removal is then atomic), then
	// deleted. A restore in progress or interrupted does not need it (its intent is a second name
	// or a copy of the file). Throws SnapshotError (BadName, NotFound, Io).
	void remove(const std::string& name);
	// Remove what killed saves and removals left under temporary names; returns how many.
	unsigned clean_leftovers() const;

	// For tests: called with each step of a save ("save:tmpdir", "save:copied", "save:info",
	// "save:renamed") and removal ("remove:renamed"), to end the process there.
	void set_crash_hook_for_testing(void (*hook)(const char* step)) { crash_hook_ = hook; }

private:
	void crash_point(const char* step) const
	{
		if (crash_hook_ != nullptr)
			crash_hook_(step);
	}
	std::string dir_;
	void (*crash_hook_)(const char*) = nullptr;
};

}  // namespace el3d::snapshot
