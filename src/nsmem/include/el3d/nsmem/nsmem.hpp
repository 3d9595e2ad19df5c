#pragma once
// The Non-secure memory file: the emulated platform's Non-secure physical memory (its DRAM banks
// outside the carveout, and its device windows), backed by a sparse file of el3d's own beside the
// carveout file, so that every client can map it at PA == VA and share it (docs/persistence.md).
//
// The file belongs to one carveout file: its header names the carveout's random id, and it is
// opened only while that carveout is open (the carveout's lock covers it; it has no lock of its
// own). Opening never modifies a file it refuses: every check reads only.
#include "el3d/carveout/carveout.hpp"
#include "el3d/platform/platform.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace el3d {

// Physical [base, base + size) is held by bytes [file_offset, file_offset + size) of the file.
struct NsWindow {
	uint64_t base = 0;
	uint64_t size = 0;
	uint64_t file_offset = 0;
	uint64_t end() const { return base + size; }
	bool operator==(const NsWindow&) const = default;
};

inline constexpr unsigned kMaxNsWindows = 16;
inline constexpr uint64_t kNsWindowAlign = 0x200000;  // file offsets of windows: 2 MiB aligned

// The Non-secure memory of a geometry: its DRAM banks and its platform's device windows
// (PlatformProfile::device_windows), minus the carveout [rmm_base, image_end), ascending,
// overlaps merged. Every Non-secure range of gpt_layout(g) lies inside one of them.
std::vector<MemRange> ns_memory_ranges(const Geometry& g);
// Those ranges with their file offsets: the first at 2 MiB (after the header page), each next one
// at the 2 MiB-aligned end of the one before.
std::vector<NsWindow> ns_layout(const Geometry& g);

enum class NsRefusal {
	NotNsFile,           // empty, bad magic, not a regular file
	UnsupportedVersion,
	Corrupt,             // header checksum or fields damaged
	Foreign,             // the header names another carveout file
	Layout,              // another platform or other windows than this el3d computes
	Truncated,           // shorter or longer than its header says
	Io,                  // an operating-system error
};

class NsMemoryError : public std::runtime_error {
public:
	NsMemoryError(NsRefusal why, const std::string& msg) : std::runtime_error(msg), why_(why) {}
	NsRefusal refusal() const { return why_; }

private:
	NsRefusal why_;
};

struct NsMemoryOpenRequest {
	// The file; empty = default_path(the carveout's path).
	std::string path;
	// el3d --reset: recreate the file even if it is foreign or corrupt (the carveout was recreated).
	bool reset = false;
};

// What clients need to map the file.
struct NsMemoryInfo {
	std::string path;
	std::string id;           // this file's random id (32 hex digits)
	std::string carveout_id;  // the carveout file it belongs to
	std::vector<NsWindow> windows;
};

class NsMemory {
public:
	// <carveout path>.ns
	static std::string default_path(const std::string& carveout_path) { return carveout_path + ".ns"; }

	// Open the NS memory file of `carveout`, which must be open (its lock held) for as long as
	// this object lives. A missing file is created; the file is recreated when req.reset, or when
	// the carveout file was just created and the NS file is the default one beside it (it belonged
	// to the carveout file that was there before). Its content is zeroed when it belongs to an
	// older epoch of the carveout (a reset that did not finish). Throws NsMemoryError.
	static std::unique_ptr<NsMemory> open(const Carveout& carveout, const NsMemoryOpenRequest& req);
	~NsMemory();
	NsMemory(const NsMemory&) = delete;
	NsMemory& operator=(const NsMemory&) = delete;

	const std::string& path() const { return path_; }
	bool created() const { return created_; }  // this open created (or recreated) the file
	const std::array<uint8_t, 16>& id() const { return id_; }
	std::string id_string() const;
	const std::vector<NsWindow>& windows() const { return windows_; }
	uint64_t file_size() const { return file_size_; }
	NsMemoryInfo info() const;

	// Zero every window (the blocks are given back: the file is sparse again) and record that its
	// content belongs to the carveout's `epoch`. For Monitor::reset(), after the carveout's reset
	// committed. Throws SystemError.
	void reset(uint64_t epoch);
	// Record that the content belongs to the carveout's `epoch` without changing it: after a snapshot
	// restore moved the carveout to another epoch (docs/snapshots.md). Throws SystemError.
	void set_epoch(uint64_t epoch);

	// The window holding all of [pa, pa + len) (len > 0), or null.
	const NsWindow* window_of(uint64_t pa, uint64_t len) const;
	// Bytes [pa, pa + len) of one window, through the file (what a process mapping it sees: the
	// same page cache). False if the range is not inside one window. Throw SystemError on an I/O
	// error. No granule protection check here: that is the caller's (Monitor::ns_access_fault).
	bool read(uint64_t pa, uint64_t len, std::vector<uint8_t>& out) const;
	bool write(uint64_t pa, const uint8_t* data, uint64_t len);

private:
	NsMemory() = default;
	std::string path_;
	int fd_ = -1;
	bool created_ = false;
	std::array<uint8_t, 16> id_{};
	std::string carveout_id_;
	std::vector<NsWindow> windows_;
	uint64_t file_size_ = 0;
};

}  // namespace el3d
