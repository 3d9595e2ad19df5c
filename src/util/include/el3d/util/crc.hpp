#pragma once
// CRC-32 (zlib's polynomial) over byte ranges: the checksum of every on-disk structure.
#include <cstddef>
#include <cstdint>

namespace el3d {

uint32_t crc32(const void* data, std::size_t len, uint32_t seed = 0);

}  // namespace el3d
