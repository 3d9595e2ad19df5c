#pragma once
// A check the boot configuration's TOML goes through before toml++ sees it. Private to the manifest component.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace el3d::manifest {

struct TomlHazard {
	char32_t code_point = 0;
	std::size_t line = 0;  // 1-based; 0: none found
};

// The first character of valid UTF-8 `text` that toml++ 3.3 cannot be given safely: where it expects whitespace it
// asks whether a non-ASCII character is Unicode whitespace, and for U+00A1..U+0499, U+2C5E..U+3057 (but U+3000)
// and U+FB26..U+FEFE its generated table reaches __builtin_unreachable() (undefined behaviour; found by fuzzing:
// "\u0140" alone is enough, and so is one inside a string that an invalid value before it runs into).
TomlHazard toml_hazard(std::string_view text);

}  // namespace el3d::manifest
