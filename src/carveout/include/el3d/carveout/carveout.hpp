#pragma once
// The carveout file: a self-describing, locked, memory-mapped file that holds the image of the
// RMM carveout and el3d's persistent metadata (a state block and the allocation log).
//
// Opening never modifies a file it refuses: every check runs on a read-only view first, and a
// second opener of the same file is refused while the first holds its lock.
#include "el3d/platform/platform.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace el3d {

enum class CarveoutRefusal {
	Locked,            // another process holds the file
	NotCarveout,       // bad magic, empty file
	UnsupportedVersion,
	Corrupt,           // header checksum, layout or metadata damaged
	Truncated,         // wrong size for its own header
	GeometryMismatch,  // the file's geometry differs from an explicitly requested one
	Io,                // an operating-system error
};

class CarveoutError : public std::runtime_error {
public:
	CarveoutError(CarveoutRefusal why, const std::string& msg) : std::runtime_error(msg), why_(why) {}
	CarveoutRefusal refusal() const { return why_; }

private:
	CarveoutRefusal why_;
};

// How far a change is made durable before the call that made it returns.
enum class Durability {
	Power,    // flushed to stable storage (msync / fsync): survives a power cut
	Process,  // in the file's page cache only (no flush): survives the death of any process, not a power
	          // cut; what fuzzing and fast tests use
};
// "process" / "power", and back (nullopt if unknown).
const char* durability_name(Durability d);
std::optional<Durability> durability_from_name(std::string_view name);

// Flushes made and waited for (Carveout::flush_stats()).
struct FlushStats {
	uint64_t flushes = 0;        // flushes to stable storage (one msync(MS_SYNC) each), batched or not
	uint64_t batch_flushes = 0;  // of those, made by make_durable() for batches
	uint64_t batches = 0;   // batches that wrote something (with the monitor: state-changing SMCs)
	uint64_t grouped = 0;   // batches made durable by a flush that another batch's caller made (group commit)
};

struct CarveoutOpenRequest {
	std::string path;
	// The platform to use. When the file exists and these are unset, the file's own geometry is
	// used; when set, they must match it (unless reset). When the file is created, unset
	// means "fvp" and no overrides.
	std::optional<std::string> platform;
	GeometryOverrides overrides;
	bool reset = false;          // recreate the file even if it exists, is foreign or is corrupt
	uint64_t log_capacity = 0;   // allocation-log records for a new file; 0 = default (65536)
	Durability durability = Durability::Power;
};

// One allocation as recorded in the log.
struct AllocRecord {
	uint64_t addr = 0;
	uint64_t size = 0;
	uint64_t activation = 0;
	uint64_t time_ns = 0;
	uint32_t id = 0;
	uint32_t cpu = 0;
	uint16_t flags = 0;
	uint8_t align_bits = 0;
};
inline constexpr uint16_t kAllocAfterBootComplete = 1u << 0;
inline constexpr uint16_t kAllocLocalCpu = 1u << 1;

// What a carveout file holds, read without locking, mapping or changing it (Carveout::inspect()).
struct CarveoutSummary {
	Geometry geometry;
	std::array<uint8_t, 16> uuid{};
	uint64_t epoch = 0;
	uint64_t file_size = 0;
	std::vector<AllocRecord> log;  // the current epoch's allocations
	nlohmann::json state;          // the state document committed last
};

class Carveout {
public:
	// Create, validate, lock and map. Throws CarveoutError.
	static std::unique_ptr<Carveout> open(const CarveoutOpenRequest& req);
	~Carveout();
	Carveout(const Carveout&) = delete;
	Carveout& operator=(const Carveout&) = delete;

	const Geometry& geometry() const { return geom_; }
	const std::string& path() const { return path_; }
	bool created() const { return created_; }           // this open created the file
	Durability durability() const { return durability_; }
	uint64_t image_offset() const { return image_offset_; }  // file offset of rmm_base
	const std::array<uint8_t, 16>& uuid() const { return uuid_; }
	std::string uuid_string() const;

	// --- Image of physical memory ---------------------------------------------------------
	bool in_image(uint64_t pa, uint64_t len) const;
	// Host pointer for a physical address; the caller must have checked in_image().
	uint8_t* ptr(uint64_t pa) const { return image_ + (pa - geom_.rmm_base); }
	// Make [pa, pa+len) read as zero, with disk blocks reserved so later writes cannot fail
	// for lack of space. Returns an error (e.g. ENOSPC) and leaves the rest alone on failure.
	std::error_code zero(uint64_t pa, uint64_t len);
	// Flush [pa, pa+len) of the image to stable storage.
	std::error_code sync(uint64_t pa, uint64_t len);
	// Copy [pa, pa+len) of the image out, or in, through the file rather than the mapping: the process maps
	// no pages for it (a reset then has none to unmap), a hole is read without giving it a page, and a file
	// system that is full answers ENOSPC instead of SIGBUS. The caller must have checked in_image(). Throw
	// SystemError (or std::runtime_error for a file shorter than its image).
	void read_image(uint64_t pa, uint8_t* out, uint64_t len) const;
	void write_image(uint64_t pa, const uint8_t* data, uint64_t len);

	// --- Granule protection table -------------------------------------------------------------
	// The ranges the GPT tracks and their 4-bit-per-granule map (see gpt_map_offset()); the map
	// reads as zero for a new file. Writers flush with sync_gpt().
	const std::vector<GptRange>& gpt_ranges() const { return gpt_ranges_; }
	uint8_t* gpt_map() const { return gpt_; }
	uint64_t gpt_map_size() const { return gpt_size_; }
	std::error_code sync_gpt(uint64_t offset, uint64_t len);
	// The parts of [offset, offset + len) of the map that may hold non-zero bytes, in order: the rest are holes
	// in the file (never written, or cleared by a reset), which read as zero. All of it where the file system
	// cannot tell.
	std::vector<std::pair<uint64_t, uint64_t>> gpt_map_extents(uint64_t offset, uint64_t len) const;
	// True when the map is known to be all zero (every granule as the platform started): after a reset,
	// until the next write to it. Writers call sync_gpt() for what they wrote, which is how it is known.
	bool gpt_map_clear() const { return gpt_dirty_lo_ >= gpt_dirty_hi_; }

	// --- Allocation log ---------------------------------------------------------------------
	const std::vector<AllocRecord>& log() const { return log_; }
	uint64_t log_capacity() const { return log_capacity_; }
	// Durably append; false if the log is full. Throws SystemError on I/O failure, after voiding
	// the record on disk so that the failed allocation does not come back on the next open.
	bool append(const AllocRecord& rec);

	// --- State block ------------------------------------------------------------------------
	// The JSON document committed last (an empty object for a new file).
	const nlohmann::json& state() const;
	// Durably replace the state document. Throws SystemError / std::length_error; on either the
	// committed document stays the current one, in memory and on disk. The rvalue form keeps `doc`
	// itself as the current document instead of a copy (left unchanged if the commit throws).
	void commit_state(const nlohmann::json& doc);
	void commit_state(nlohmann::json&& doc);
	// commit_state() of the document `cbor` encodes (a CBOR map, without kResetPendingKey), for a caller that
	// commits on every state change (the monitor) and builds no JSON tree; state() decodes it when asked.
	void commit_state_cbor(std::span<const uint8_t> cbor);
	uint64_t epoch() const { return epoch_; }
	uint64_t state_generation() const { return generation_; }

	// --- Reset -----------------------------------------------------------------------------
	// A reset is one atomic step as seen after any crash. reset() empties the allocation log and
	// installs `fresh_state` with the next epoch, marked unfinished (kResetPendingKey), in one
	// commit; then it zeroes the image and the GPT map. The caller puts the rest of its fresh
	// state in place (GPT pre-marks) and finishes with commit_state() of a document without the
	// mark. A file opened with the mark still set (el3d died in between) is one whose reset did
	// not finish: its opener calls clear_image_and_gpt() again, redoes its own part and commits.
	static constexpr const char* kResetPendingKey = "reset_pending";
	void reset(const nlohmann::json& fresh_state);
	// The same with the document as CBOR (a map that holds kResetPendingKey: true), as commit_state_cbor().
	void reset_cbor(std::span<const uint8_t> fresh_cbor);
	bool reset_pending() const { return reset_pending_; }
	// Zero the image and the GPT map: the part of a reset after its commit point (idempotent).
	// Costs what was used: holes are punched, and only non-zero words of the map are written.
	void clear_image_and_gpt();
	// The parts of the file's [off, off + len) that may hold data, in order (SEEK_DATA / SEEK_HOLE; the rest
	// are holes, which read as zero): all of it where the file system cannot tell.
	std::vector<std::pair<uint64_t, uint64_t>> data_extents(uint64_t off, uint64_t len) const;

	// --- Restore from a snapshot (restore.cpp, docs/snapshots.md) ------------------------------
	// Validate a carveout file with reads only (no lock taken, nothing written). Throws CarveoutError.
	static CarveoutSummary inspect(const std::string& path);
	// Where a restore's intent is kept while it runs: a complete copy of (or a second name for) the
	// snapshot being restored, next to the carveout file. Its appearance is the commit point.
	static std::string restore_intent_path(const std::string& carveout_path) { return carveout_path + ".restore"; }
	// Replace everything in this file after its header (state block, allocation log, GPT map, image) by
	// what the carveout file `source` holds, in place: the lock, the mappings (and clients' mappings of
	// the file) stay valid and read the new bytes. Crash-safe: the intent is committed first (a link
	// to, or a copy of, `source` at restore_intent_path()), then the bytes are copied and synced, then
	// the intent is removed; an open that finds an intent finishes the restore before anything else,
	// so every opener sees the old file or the restored one, never a mix. Refused (CarveoutError
	// GeometryMismatch, nothing changed) if `source` is laid out differently (platform, addresses,
	// sizes, log capacity). Afterwards the metadata is read again (state(), log(), epoch()); the
	// caller reloads what it derived from them. Throws CarveoutError / SystemError.
	void restore_from(const std::string& source);

	// --- Group commit (Power durability; docs/persistence.md) ---------------------------------
	// Whoever serialises the writers (the monitor, for an SMC) opens a batch under its lock, makes its
	// changes, and closes it, still under the lock: the flushes those changes ask for are not made but
	// remembered, and end_batch() returns a ticket for them (0: nothing to flush, or Process durability).
	// After releasing its lock the caller waits with make_durable(ticket): one flush covers every batch
	// closed before it started, so callers on several threads share flushes. A state commit never
	// overwrites the last durable state copy before the copy after it is durable. A failed flush throws
	// SystemError for every batch it covered and for every later one (the file is not trusted again
	// until it is reopened). Writes outside a batch flush at once, as before.
	void begin_batch();
	uint64_t end_batch();
	void make_durable(uint64_t ticket);
	FlushStats flush_stats() const;

	// For tests: called with the name of each step of a reset or restore as it is reached
	// ("reset:committed", "reset:image-cleared", "reset:gpt-cleared", "restore:intent",
	// "restore:copied", "restore:done", and the caller's own); a test that wants to see
	// what a crash there leaves ends the process from it.
	void set_crash_hook_for_testing(void (*hook)(const char* step)) { crash_hook_ = hook; }
	void crash_point(const char* step) const
	{
		if (crash_hook_ != nullptr)
			crash_hook_(step);
	}

	// For tests: the next `count` flushes of the metadata (allocation log, state block) fail with
	// EIO, as they would on a failing disk.
	void fail_metadata_syncs_for_testing(unsigned count) { failing_syncs_ = count; }

private:
	Carveout() = default;
	void map_and_load(bool created);
	void load_metadata();  // the state block and the allocation log, from the file
	// An interrupted restore (an intent next to the file) finished, before the file is loaded.
	void finish_interrupted_restore();
	// Copy the intent's bytes over the file, sync, remove the intent (restore_from()'s second half).
	void apply_restore_intent(int intent_fd);
	// `doc` as CBOR behind a state header, written as state copy `copy` (write_metadata()).
	void write_state_copy(unsigned copy, uint64_t generation, uint64_t epoch, const nlohmann::json& doc);
	void write_state_copy(unsigned copy, uint64_t generation, uint64_t epoch, std::span<const uint8_t> cbor);
	void write_state_buf(unsigned copy, uint64_t generation, uint64_t epoch);  // state_buf_: header's room, CBOR
	void reset_committed(unsigned copy);  // reset() after its commit point
	// msync(MS_SYNC) of [rel, rel + len) of the metadata mapping; -1 with errno on failure.
	int sync_meta(uint64_t rel, uint64_t len);
	// pwrite `n` bytes at file offset `off` and flush metadata pages [rel, rel + sync_len); if either fails,
	// overwrite the start with `voided` (a record or header that does not count), flush again (if even that
	// fails, log what the failed change may do) and rethrow. `log_record`: an allocation-log record (of the
	// allocation at `addr`), else a state copy; the messages are built only on failure.
	void write_metadata(const void* data, std::size_t n, uint64_t off, uint64_t rel, uint64_t sync_len,
	                    const void* voided, std::size_t voided_n, bool log_record, uint64_t addr);

	// msync(MS_SYNC) of `len` bytes at `addr` (file offset `off`) unless the durability is Process; in a
	// batch, remembered for make_durable() instead. -1 with errno on failure.
	int flush(void* addr, uint64_t off, uint64_t len);
	// The state copy the next commit writes (group_commit.cpp): the other one, unless the current one
	// is not durable yet and no flush has started on it.
	unsigned next_state_copy();
	// make_durable(); `batch`: the caller is a batch's (its wait and flush count in flush_stats()).
	void wait_durable(uint64_t ticket, bool batch);
	struct Dirty {
		uint8_t* addr;
		uint64_t off, len;
	};
	void flush_ranges(std::vector<Dirty>& ranges);  // group_commit.cpp; throws SystemError

	std::string path_;
	int fd_ = -1;
	Durability durability_ = Durability::Power;
	bool created_ = false;
	Geometry geom_;
	std::array<uint8_t, 16> uuid_{};
	uint64_t file_size_ = 0;
	uint64_t state_offset_ = 0, state_copy_size_ = 0;
	uint64_t log_offset_ = 0, log_capacity_ = 0;
	uint64_t image_offset_ = 0;
	uint64_t gpt_offset_ = 0, gpt_size_ = 0;
	std::vector<GptRange> gpt_ranges_;
	uint8_t* gpt_ = nullptr;   // mapping of the GPT map
	uint8_t* meta_ = nullptr;  // mapping of [state_offset, gpt_offset)
	uint64_t meta_len_ = 0;
	uint8_t* image_ = nullptr;  // mapping of the image
	std::vector<AllocRecord> log_;
	std::vector<uint8_t> state_buf_;  // a state copy as written (header and CBOR), reused by each commit
	// The state document committed last; after commit_state_cbor() it is state_cbor_, decoded on demand.
	mutable nlohmann::json state_ = nlohmann::json::object();
	mutable bool state_stale_ = false;
	std::vector<uint8_t> state_cbor_;
	uint64_t epoch_ = 0, generation_ = 0;
	unsigned current_copy_ = 0;
	unsigned failing_syncs_ = 0;
	bool reset_pending_ = false;
	// Bytes of the GPT map that may be non-zero: all of it after an open, none after a reset, and what
	// sync_gpt() was told of since; a reset clears only these.
	uint64_t gpt_dirty_lo_ = 0, gpt_dirty_hi_ = UINT64_MAX;
	void (*crash_hook_)(const char*) = nullptr;
	// Group commit: the batch open under the caller's lock, and what waits for a flush (under gc_mu_).
	bool batching_ = false;
	std::vector<Dirty> batch_;
	mutable std::mutex gc_mu_;
	std::condition_variable gc_cv_;
	std::vector<Dirty> pending_;    // ranges of closed batches no flush has taken yet
	uint64_t closed_ = 0;           // tickets handed out
	uint64_t flushing_upto_ = 0;    // the flush in progress covers tickets up to this
	uint64_t flushed_ = 0;          // tickets made durable
	bool leader_ = false;           // a flush is in progress
	int flush_errno_ = 0;           // a flush failed: every later ticket fails
	std::array<uint64_t, 2> copy_ticket_{};  // the batch that last wrote each state copy
	FlushStats stats_;
};

}  // namespace el3d
