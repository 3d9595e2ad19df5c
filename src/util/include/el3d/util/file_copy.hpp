#pragma once
// Copying large sparse files cheaply: what carveout snapshots (src/snapshot) and their restore
// (Carveout::restore_from) are made of. A carveout file is mostly holes; a copy keeps them holes.
#include <cstdint>
#include <string>

namespace el3d {

enum class CopyMethod {
	Reflink,  // FICLONE: the file system shares the blocks (btrfs, XFS with reflink); nothing is read
	Sparse,   // data extents found with SEEK_DATA / SEEK_HOLE, copied with copy_file_range; holes stay holes
};
const char* copy_method_name(CopyMethod m);

// Make the empty file `dst` a copy of all of `src` (same size, same holes), by reflink when the
// file system can, else by a sparse copy. Does not sync. Throws SystemError.
CopyMethod clone_file(int src, int dst, const std::string& what);

// Make [from, size) of `dst` equal to the same range of `src` (both `size` bytes long), in place:
// `src`'s data extents are copied, its holes are punched into `dst` (zeros written where the file
// system cannot punch). Through the page cache, so that shared mappings of `dst` see the new bytes.
// [from, dense_end) is written whole, holes included as zeros, so blocks reserved there stay
// reserved. Does not sync. Throws SystemError.
void copy_range_over(int src, int dst, uint64_t from, uint64_t dense_end, uint64_t size, const std::string& what);

// fsync the directory `dir`: makes a rename, link or unlink in it durable. Throws SystemError.
void sync_dir(const std::string& dir);

}  // namespace el3d
