#include "el3d/util/crc.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace el3d {

uint32_t crc32(const void* data, std::size_t len, uint32_t seed)
{
	auto crc = static_cast<uLong>(seed);
	const auto* p = static_cast<const Bytef*>(data);
	while (len > 0) {
		const auto chunk = static_cast<uInt>(std::min<std::size_t>(len, std::numeric_limits<uInt>::max()));
		crc = ::crc32(crc, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return static_cast<uint32_t>(crc);
}

}  // namespace el3d
