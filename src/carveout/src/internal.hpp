#pragma once
// Private to the carveout component: what opening, loading and writing a carveout file share.
#include "el3d/carveout/carveout.hpp"
#include "format.hpp"

#include <string>

namespace el3d::detail {

// Throw the CarveoutError that refuses `path`.
[[noreturn]] void refuse(CarveoutRefusal why, const std::string& path, const std::string& msg);

// A state copy whose magic and CRC match (its payload is the CBOR document).
bool state_copy_valid(const format::StateHeader& h, const uint8_t* payload, uint64_t copy_size);

// The superblock of the open file `fd`, checked (format::check_superblock against the file's size);
// refuses `path` if it is not a valid carveout header. Reads only.
format::Superblock read_superblock(int fd, const std::string& path);

// The differences between two superblocks' layouts (everything but the file id, creation time and
// CRC), one "\n  field: ..." line each; empty if the files are laid out alike.
std::string layout_differences(const format::Superblock& have, const format::Superblock& other);

// The refusal a format::check_superblock() message stands for.
CarveoutRefusal classify(const std::string& why);

}  // namespace el3d::detail
