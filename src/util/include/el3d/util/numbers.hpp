#pragma once
// Parsing and printing of the numbers users type and read: addresses, sizes, hex byte strings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace el3d {

// "4096", "0x1000", "4K", "8M", "1G", "0x800000". Suffixes K/M/G/T are binary (KiB...). nullopt on
// garbage or overflow.
std::optional<uint64_t> parse_u64(std::string_view s);

// "0x00000000fdc00000"
std::string hex64(uint64_t v);
// "0xfdc00000" (no padding)
std::string hex(uint64_t v);
// "32 MiB", "4 KiB", "1.5 GiB", "100 B"
std::string human_size(uint64_t bytes);

// Lowercase hex string of the bytes, no separators.
std::string to_hex(const uint8_t* data, std::size_t len);
// Accepts upper/lower case, an optional "0x" prefix; nullopt if the length is odd or a digit is bad.
std::optional<std::vector<uint8_t>> from_hex(std::string_view s);

}  // namespace el3d
