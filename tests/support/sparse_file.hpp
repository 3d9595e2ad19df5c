#pragma once
// Checks on large sparse files (the NS memory file is gigabytes of holes) without reading the holes.
#include <cstdint>
#include <string>

namespace el3d::test {

// A digest of the file's size and of its non-zero pages (offset and bytes), found through
// SEEK_DATA/SEEK_HOLE: equal digests mean byte-for-byte equal content. "missing" if it cannot be opened.
std::string sparse_digest(const std::string& path);
// Bytes of disk the file takes (st_blocks * 512); UINT64_MAX if it cannot be examined.
uint64_t disk_usage(const std::string& path);

}  // namespace el3d::test
