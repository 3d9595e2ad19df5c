#include "el3d/attest/cbor.hpp"

#include <stdexcept>

namespace el3d::attest::cbor {

void Writer::head(Major major, uint64_t arg)
{
	const auto mt = static_cast<uint8_t>(static_cast<uint8_t>(major) << 5);
	// Additional information 0..23 carries the value itself; 24..27 announce a 1/2/4/8-byte
	// big-endian argument. Picking the smallest that fits is what makes the encoding deterministic.
	unsigned len;
	if (arg < 24) {
		out_.push_back(static_cast<uint8_t>(mt | arg));
		return;
	} else if (arg <= 0xff) {
		out_.push_back(mt | 24);
		len = 1;
	} else if (arg <= 0xffff) {
		out_.push_back(mt | 25);
		len = 2;
	} else if (arg <= 0xffffffff) {
		out_.push_back(mt | 26);
		len = 4;
	} else {
		out_.push_back(mt | 27);
		len = 8;
	}
	for (unsigned i = len; i-- > 0;)
		out_.push_back(static_cast<uint8_t>(arg >> (8 * i)));
}

Writer& Writer::uint(uint64_t v)
{
	head(Major::Unsigned, v);
	return *this;
}

Writer& Writer::integer(int64_t v)
{
	if (v >= 0)
		head(Major::Unsigned, static_cast<uint64_t>(v));
	else
		// -1 - v without signed overflow, even for INT64_MIN: ~v == -1 - v in two's complement.
		head(Major::Negative, ~static_cast<uint64_t>(v));
	return *this;
}

Writer& Writer::bytes(std::span<const uint8_t> b)
{
	head(Major::Bytes, b.size());
	out_.insert(out_.end(), b.begin(), b.end());
	return *this;
}

Writer& Writer::text(std::string_view s)
{
	if (!valid_utf8(s))
		throw std::invalid_argument("CBOR text string is not valid UTF-8");
	head(Major::Text, s.size());
	out_.insert(out_.end(), s.begin(), s.end());
	return *this;
}

Writer& Writer::array(uint64_t count)
{
	head(Major::Array, count);
	return *this;
}

Writer& Writer::map(uint64_t pairs)
{
	head(Major::Map, pairs);
	return *this;
}

Writer& Writer::tag(uint64_t number)
{
	head(Major::Tag, number);
	return *this;
}

Writer& Writer::boolean(bool v)
{
	out_.push_back(v ? 0xF5 : 0xF4);
	return *this;
}

Writer& Writer::raw(std::span<const uint8_t> encoded)
{
	out_.insert(out_.end(), encoded.begin(), encoded.end());
	return *this;
}

bool valid_utf8(std::string_view s)
{
	std::size_t i = 0;
	while (i < s.size()) {
		const auto c = static_cast<uint8_t>(s[i]);
		if (c < 0x80) {
			++i;
			continue;
		}
		std::size_t n;
		uint32_t cp;
		uint32_t min;
		if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1fu, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0fu, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07u, min = 0x10000;
		} else {
			return false;  // a continuation byte where a lead byte belongs, or 0xf8..0xff
		}
		if (s.size() - i <= n)
			return false;
		for (std::size_t k = 1; k <= n; ++k) {
			const auto cc = static_cast<uint8_t>(s[i + k]);
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

}  // namespace el3d::attest::cbor
