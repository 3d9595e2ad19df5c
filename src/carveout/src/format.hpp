#pragma once
// On-disk layout of a carveout file (format version 1). Private to the carveout component.
//
//   offset 0            superblock (4 KiB): magic, version, geometry, area offsets, CRC-32.
//                       Written once when the file is created, never modified afterwards.
//   state_offset        two copies of the state block (state_copy_size each): header + CBOR.
//                       A commit writes the older copy; the valid copy with the higher
//                       generation wins on open.
//   log_offset          allocation log: log_capacity records of 64 bytes, each with its own
//                       CRC, the epoch it belongs to and its index.
//   gpt_offset          granule protection table: 4 bits per granule of the tracked ranges
//                       (gpt_layout of the geometry), zero meaning "the range's initial PAS".
//   image_offset        the image of physical memory [rmm_base, rmm_limit + shared_size).
//
// All integers are little-endian (the byte order of every host el3d supports).
#include "el3d/platform/platform.hpp"

#include <cstddef>
#include <cstdint>

namespace el3d::format {

inline constexpr char kMagic[8] = {'E', 'L', '3', 'D', 'C', 'A', 'R', 'V'};
inline constexpr char kStateMagic[8] = {'E', 'L', '3', 'D', 'S', 'T', 'A', 'T'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint64_t kSuperblockArea = 0x1000;
inline constexpr uint64_t kStateCopySize = 0x100000;  // 1 MiB per copy
inline constexpr uint64_t kAreaAlign = 0x200000;      // image starts 2 MiB aligned
inline constexpr uint64_t kDefaultLogCapacity = 65536;
inline constexpr uint64_t kMaxLogCapacity = 1u << 24;

struct Superblock {
	char magic[8];
	uint32_t format_version;
	uint32_t superblock_size;
	uint8_t uuid[16];
	char platform[32];
	uint64_t rmm_base;
	uint64_t rmm_limit;
	uint64_t shared_size;
	uint64_t payload_limit;
	uint32_t core_count;
	uint32_t region_slots;
	uint64_t state_offset;
	uint64_t state_copy_size;
	uint64_t log_offset;
	uint64_t log_capacity;
	uint64_t image_offset;
	uint64_t image_size;
	uint64_t file_size;
	uint64_t created_unix;
	uint32_t pa_bits;
	uint32_t dram_count;
	struct {
		uint64_t base;
		uint64_t size;
	} dram[kMaxDramBanks];
	uint64_t gpt_offset;  // the GPT map: 4 bits per granule of gpt_layout(geometry)
	uint64_t gpt_size;
	uint8_t reserved[252];
	uint32_t crc;  // CRC-32 of every byte before this field
};
static_assert(sizeof(Superblock) == 512);
static_assert(offsetof(Superblock, crc) == 508);

struct StateHeader {
	char magic[8];
	uint64_t generation;
	uint64_t epoch;  // bumped by every reset; log records of older epochs are void
	uint32_t payload_len;
	uint32_t crc;    // CRC-32 of this header (crc field zero) followed by the payload
};
static_assert(sizeof(StateHeader) == 32);

struct LogRecord {
	uint64_t epoch;
	uint64_t seq;  // == index in the log
	uint64_t addr;
	uint64_t size;
	uint64_t activation;
	uint64_t time_ns;  // CLOCK_REALTIME
	uint32_t id;
	uint32_t cpu;
	uint16_t flags;
	uint8_t align_bits;
	uint8_t kind;
	uint32_t crc;  // CRC-32 of the 60 bytes before it
};
static_assert(sizeof(LogRecord) == 64);

inline constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Layout of a new file for the geometry.
Superblock make_superblock(const Geometry& g, uint64_t log_capacity);
uint32_t superblock_crc(const Superblock& sb);
uint32_t log_record_crc(const LogRecord& r);

// Why a superblock is unusable, or empty if it is sound for a file of this size.
std::string check_superblock(const Superblock& sb, uint64_t file_size);
Geometry geometry_of(const Superblock& sb);

}  // namespace el3d::format
