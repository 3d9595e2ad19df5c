#pragma once
// On-disk layout of a Non-secure memory file (format version 1). Private to the nsmem component.
//
//   offset 0       header (512 bytes, in a 4 KiB page): magic, version, the file's random id, the
//                  carveout file's random id, platform, window table, CRC-32. Written once when the
//                  file is created, never modified.
//   offset 0x800   epoch record (24 bytes): the carveout epoch the windows' content belongs to, CRC-32.
//                  Rewritten by a reset, after the windows are zeroed.
//   window[i].file_offset (2 MiB aligned, the first at 2 MiB)
//                  physical memory [window[i].base, + window[i].size). Sparse until written.
//
// All integers are little-endian.
#include "el3d/nsmem/nsmem.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace el3d::nsformat {

inline constexpr char kMagic[8] = {'E', 'L', '3', 'D', 'N', 'S', 'M', 'M'};
inline constexpr char kEpochMagic[8] = {'E', 'L', '3', 'D', 'N', 'S', 'E', 'P'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint64_t kHeaderArea = 0x1000;
inline constexpr uint64_t kEpochOffset = 0x800;

struct Header {
	char magic[8];
	uint32_t format_version;
	uint32_t header_size;     // sizeof(Header)
	uint8_t id[16];           // this file's random id (offset 16, like the carveout's)
	uint8_t carveout_id[16];  // the carveout file it belongs to
	char platform[32];
	uint64_t file_size;
	uint64_t created_unix;
	uint32_t window_count;
	uint32_t reserved0;
	struct {
		uint64_t base;
		uint64_t size;
		uint64_t file_offset;
	} windows[kMaxNsWindows];
	uint8_t reserved[20];
	uint32_t crc;  // CRC-32 of every byte before this field
};
static_assert(sizeof(Header) == 512);
static_assert(offsetof(Header, id) == 16 && offsetof(Header, carveout_id) == 32);
static_assert(offsetof(Header, windows) == 104 && offsetof(Header, crc) == 508);

struct EpochRecord {
	char magic[8];
	uint64_t epoch;
	uint32_t crc;  // CRC-32 of the 16 bytes before it
	uint32_t reserved;
};
static_assert(sizeof(EpochRecord) == 24);

Header make_header(const Geometry& g, const uint8_t carveout_id[16]);
uint32_t header_crc(const Header& h);
EpochRecord make_epoch(uint64_t epoch);
bool epoch_valid(const EpochRecord& r);

// Why a header is unusable for a file of `file_size` bytes, or empty if it is sound. Foreign or
// differently laid-out files pass: the caller compares the carveout id and the windows.
std::string check_header(const Header& h, uint64_t file_size);
std::vector<NsWindow> windows_of(const Header& h);

}  // namespace el3d::nsformat
