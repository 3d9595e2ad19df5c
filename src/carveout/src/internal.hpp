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

// The refusal a format::check_superblock() message stands for.
CarveoutRefusal classify(const std::string& why);

}  // namespace el3d::detail
