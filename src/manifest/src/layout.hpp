#pragma once
// Byte offsets of the Boot Manifest v0.5 structures (the CASSERTs of TF-A's rmm_core_manifest.h), and little-endian
// accessors. The encoder and the validator go through these instead of host structs, so neither the host's padding
// rules nor its byte order can change the bytes the RMM sees.
#include "el3d/manifest/manifest.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace el3d::manifest::layout {

// struct rmm_manifest
inline constexpr std::size_t kVersion = 0;        // u32
inline constexpr std::size_t kPadding = 4;        // u32, RES0
inline constexpr std::size_t kPlatData = 8;       // u64 PA
inline constexpr std::size_t kDram = 16;          // memory_info
inline constexpr std::size_t kConsole = 40;       // console_list
inline constexpr std::size_t kNcoh = 64;          // memory_info
inline constexpr std::size_t kCoh = 88;           // memory_info
inline constexpr std::size_t kSmmu = 112;         // smmu_list
inline constexpr std::size_t kRootComplex = 136;  // root_complex_list

// memory_info, console_list and smmu_list share one shape: {u64 num; u64 ptr; u64 checksum}.
inline constexpr std::size_t kListNum = 0;
inline constexpr std::size_t kListPtr = 8;
inline constexpr std::size_t kListChecksum = 16;
inline constexpr std::size_t kListSize = 24;

// root_complex_list: {u64 num; u32 rc_info_version; u32 padding; u64 ptr; u64 checksum}
inline constexpr std::size_t kRcListNum = 0;
inline constexpr std::size_t kRcListVersion = 8;
inline constexpr std::size_t kRcListPtr = 16;
inline constexpr std::size_t kRcListChecksum = 24;
inline constexpr std::size_t kRcListSize = 32;

// memory_bank
inline constexpr std::size_t kBankBase = 0;
inline constexpr std::size_t kBankSz = 8;

// console_info
inline constexpr std::size_t kConBase = 0;
inline constexpr std::size_t kConMapPages = 8;
inline constexpr std::size_t kConName = 16;  // char[8]
inline constexpr std::size_t kConClk = 24;
inline constexpr std::size_t kConBaud = 32;
inline constexpr std::size_t kConFlags = 40;

// smmu_info
inline constexpr std::size_t kSmmuBase = 0;
inline constexpr std::size_t kSmmuRBase = 8;

// root_complex_info v0.1
inline constexpr std::size_t kRcEcam = 0;       // u64
inline constexpr std::size_t kRcSegment = 8;    // u8, then u8[3] padding
inline constexpr std::size_t kRcNumPorts = 12;  // u32
inline constexpr std::size_t kRcPorts = 16;     // u64 PA

// root_port_info
inline constexpr std::size_t kRpId = 0;       // u16, then u16 padding
inline constexpr std::size_t kRpNumBdfs = 4;  // u32
inline constexpr std::size_t kRpBdfs = 8;     // u64 PA

// bdf_mapping_info: four u16
inline constexpr std::size_t kBdfBase = 0;
inline constexpr std::size_t kBdfTop = 2;
inline constexpr std::size_t kBdfOff = 4;
inline constexpr std::size_t kBdfSmmuIdx = 6;

// The sizes in the public header follow from the offsets above.
static_assert(kRootComplex + kRcListSize == kCoreSize);
static_assert(kCoh + kListSize == kSmmu && kSmmu + kListSize == kRootComplex);
static_assert(kDram + kListSize == kConsole && kConsole + kListSize == kNcoh && kNcoh + kListSize == kCoh);
static_assert(kConFlags + 8 == kConsoleSize && kConName + kConsoleNameMax + 1 == kConClk);
static_assert(kRcPorts + 8 == kRcSize && kRpBdfs + 8 == kRootPortSize && kBdfSmmuIdx + 2 == kBdfSize);
// Every array element is a whole number of u64 words, so arrays placed back to back stay 8-byte aligned and the
// checksum (a sum of u64 words) covers each of them exactly.
static_assert(kBankSize % 8 == 0 && kConsoleSize % 8 == 0 && kSmmuSize % 8 == 0 && kRcSize % 8 == 0 &&
              kRootPortSize % 8 == 0 && kCoreSize % 8 == 0);

// std::byteswap is C++23; the manifest only needs these three widths.
inline uint16_t bswap(uint16_t v) { return __builtin_bswap16(v); }
inline uint32_t bswap(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t bswap(uint64_t v) { return __builtin_bswap64(v); }

template <typename T>
inline T load(const uint8_t* p)
{
	T v;
	std::memcpy(&v, p, sizeof v);
	if constexpr (std::endian::native == std::endian::big)
		v = bswap(v);
	return v;
}

template <typename T>
inline void store(uint8_t* p, T v)
{
	if constexpr (std::endian::native == std::endian::big)
		v = bswap(v);
	std::memcpy(p, &v, sizeof v);
}

inline uint64_t load64(const uint8_t* p) { return load<uint64_t>(p); }
inline void store64(uint8_t* p, uint64_t v) { store<uint64_t>(p, v); }

// Sum of the little-endian u64 words of [p, p + len); len is a multiple of 8.
inline uint64_t word_sum(const uint8_t* p, std::size_t len)
{
	uint64_t s = 0;
	for (std::size_t i = 0; i + 8 <= len; i += 8)
		s += load64(p + i);
	return s;
}

}  // namespace el3d::manifest::layout
