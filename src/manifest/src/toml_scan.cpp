#include "toml_scan.hpp"

namespace el3d::manifest {

namespace {
bool hazardous(char32_t c)
{
	return (c >= 0xA1 && c <= 0x499) || (c >= 0x2C5E && c <= 0x3057 && c != 0x3000) || (c >= 0xFB26 && c <= 0xFEFE);
}
}  // namespace

TomlHazard toml_hazard(std::string_view t)
{
	std::size_t line = 1;
	for (std::size_t i = 0; i < t.size();) {
		const auto c = static_cast<unsigned char>(t[i]);
		if (c == '\n')
			++line;
		const std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
		if (i + n > t.size())
			break;  // not UTF-8: the caller has refused it already
		char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
		for (std::size_t k = 1; k < n; ++k)
			cp = (cp << 6) | (static_cast<unsigned char>(t[i + k]) & 0x3F);
		if (hazardous(cp))
			return {cp, line};
		i += n;
	}
	return {};
}

}  // namespace el3d::manifest
