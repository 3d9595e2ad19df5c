#include "el3d/util/numbers.hpp"

#include <charconv>
#include <cstdio>

namespace el3d {

std::optional<uint64_t> parse_u64(std::string_view s)
{
	if (s.empty())
		return std::nullopt;
	unsigned shift = 0;
	switch (s.back()) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: break;
	}
	if (shift != 0)
		s.remove_suffix(1);
	int base = 10;
	if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s.remove_prefix(2);
	}
	if (s.empty())
		return std::nullopt;
	uint64_t v = 0;
	auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
	if (ec != std::errc() || ptr != s.data() + s.size())
		return std::nullopt;
	if (shift != 0 && (v >> (64 - shift)) != 0)
		return std::nullopt;
	return v << shift;
}

std::string hex64(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
	return buf;
}

std::string hex(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
	return buf;
}

std::string human_size(uint64_t bytes)
{
	static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;
	double v = static_cast<double>(bytes);
	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		++u;
	}
	char buf[32];
	if (u == 0 || v == static_cast<double>(static_cast<uint64_t>(v)))
		std::snprintf(buf, sizeof(buf), "%llu %s", static_cast<unsigned long long>(v), units[u]);
	else
		std::snprintf(buf, sizeof(buf), "%.2f %s", v, units[u]);
	return buf;
}

std::string to_hex(const uint8_t* data, std::size_t len)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	out.resize(len * 2);
	for (std::size_t i = 0; i < len; ++i) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0xf];
	}
	return out;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view s)
{
	if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s.remove_prefix(2);
	if (s.size() % 2 != 0)
		return std::nullopt;
	auto nibble = [](char c) -> int {
		if (c >= '0' && c <= '9') return c - '0';
		if (c >= 'a' && c <= 'f') return c - 'a' + 10;
		if (c >= 'A' && c <= 'F') return c - 'A' + 10;
		return -1;
	};
	std::vector<uint8_t> out(s.size() / 2);
	for (std::size_t i = 0; i < out.size(); ++i) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return std::nullopt;
		out[i] = static_cast<uint8_t>((hi << 4) | lo);
	}
	return out;
}

}  // namespace el3d
