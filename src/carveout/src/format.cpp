#include "format.hpp"

#include "el3d/util/crc.hpp"
#include "el3d/util/numbers.hpp"

#include <sys/random.h>

#include <cstring>
#include <ctime>

namespace el3d::format {

Superblock make_superblock(const Geometry& g, uint64_t log_capacity)
{
	Superblock sb{};
	std::memcpy(sb.magic, kMagic, sizeof(kMagic));
	sb.format_version = kVersion;
	sb.superblock_size = sizeof(Superblock);
	if (::getrandom(sb.uuid, sizeof(sb.uuid), 0) != static_cast<ssize_t>(sizeof(sb.uuid))) {
		// getrandom only fails this way before the pool is seeded; the id is informational.
		uint64_t t = static_cast<uint64_t>(std::time(nullptr));
		std::memcpy(sb.uuid, &t, sizeof(t));
	}
	std::strncpy(sb.platform, g.platform.c_str(), sizeof(sb.platform) - 1);
	sb.rmm_base = g.rmm_base;
	sb.rmm_limit = g.rmm_limit;
	sb.shared_size = g.shared_size;
	sb.payload_limit = g.payload_limit;
	sb.core_count = g.core_count;
	sb.region_slots = g.region_slots;
	sb.state_offset = kSuperblockArea;
	sb.state_copy_size = kStateCopySize;
	sb.log_offset = align_up(sb.state_offset + 2 * kStateCopySize, kAreaAlign);
	sb.log_capacity = log_capacity;
	sb.pa_bits = g.pa_bits;
	sb.dram_count = static_cast<uint32_t>(g.dram.size());
	for (std::size_t i = 0; i < g.dram.size() && i < kMaxDramBanks; ++i) {
		sb.dram[i].base = g.dram[i].base;
		sb.dram[i].size = g.dram[i].size;
	}
	sb.gpt_offset = align_up(sb.log_offset + log_capacity * sizeof(LogRecord), kAreaAlign);
	sb.gpt_size = align_up(gpt_map_size(gpt_layout(g)), 0x1000);
	sb.image_offset = align_up(sb.gpt_offset + sb.gpt_size, kAreaAlign);
	sb.image_size = g.image_size();
	sb.file_size = sb.image_offset + sb.image_size;
	sb.created_unix = static_cast<uint64_t>(std::time(nullptr));
	sb.crc = superblock_crc(sb);
	return sb;
}

uint32_t superblock_crc(const Superblock& sb) { return crc32(&sb, offsetof(Superblock, crc)); }

uint32_t log_record_crc(const LogRecord& r) { return crc32(&r, offsetof(LogRecord, crc)); }

std::string check_superblock(const Superblock& sb, uint64_t file_size)
{
	if (std::memcmp(sb.magic, kMagic, sizeof(kMagic)) != 0)
		return "not an el3d carveout file (bad magic)";
	if (sb.format_version != kVersion)
		return "unsupported carveout format version " + std::to_string(sb.format_version) +
		       " (this el3d reads version " + std::to_string(kVersion) + ")";
	if (sb.superblock_size != sizeof(Superblock) || superblock_crc(sb) != sb.crc)
		return "corrupt header (checksum mismatch)";
	if (sb.platform[sizeof(sb.platform) - 1] != '\0')
		return "corrupt header (platform name)";
	// Every offset and size lies within the file the header describes (itself bounded), so the sums
	// below cannot wrap around, and a state copy is no larger than el3d ever makes one.
	constexpr uint64_t kMaxFile = uint64_t{1} << 52;
	const bool bounded = sb.file_size <= kMaxFile && sb.state_offset <= sb.file_size &&
	                     sb.state_copy_size <= 16 * kStateCopySize && sb.log_offset <= sb.file_size &&
	                     sb.gpt_offset <= sb.file_size && sb.gpt_size <= sb.file_size &&
	                     sb.image_offset <= sb.file_size && sb.image_size <= sb.file_size &&
	                     sb.rmm_base <= kMaxFile && sb.rmm_limit <= kMaxFile && sb.shared_size <= kMaxFile;
	if (!bounded)
		return "corrupt header (inconsistent layout)";
	const bool layout_ok =
	    sb.state_offset >= kSuperblockArea && sb.state_copy_size >= 2 * sizeof(StateHeader) &&
	    sb.log_offset >= sb.state_offset + 2 * sb.state_copy_size && sb.log_capacity > 0 &&
	    sb.log_capacity <= kMaxLogCapacity &&
	    sb.gpt_offset >= sb.log_offset + sb.log_capacity * sizeof(LogRecord) && sb.gpt_offset % 0x1000 == 0 &&
	    sb.gpt_size % 0x1000 == 0 && sb.image_offset >= sb.gpt_offset + sb.gpt_size && sb.dram_count <= kMaxDramBanks &&
	    sb.pa_bits >= 32 && sb.pa_bits <= 52 &&
	    sb.image_offset % 0x1000 == 0 && sb.rmm_base < sb.rmm_limit && sb.payload_limit >= sb.rmm_base &&
	    sb.payload_limit < sb.rmm_limit && sb.rmm_limit <= UINT64_MAX - sb.shared_size &&
	    sb.image_size == sb.rmm_limit + sb.shared_size - sb.rmm_base &&
	    sb.file_size == sb.image_offset + sb.image_size && sb.region_slots >= 1 &&
	    sb.region_slots <= kMaxRegionSlots && sb.core_count >= 1 && sb.core_count <= kMaxCores;
	if (!layout_ok)
		return "corrupt header (inconsistent layout)";
	if (sb.gpt_size != align_up(gpt_map_size(gpt_layout(geometry_of(sb))), 0x1000))
		return "corrupt header (GPT size does not match the geometry)";
	if (file_size < sb.file_size)
		return "truncated: the file has " + std::to_string(file_size) + " bytes, its header says " +
		       std::to_string(sb.file_size);
	if (file_size > sb.file_size)
		return "wrong size: the file has " + std::to_string(file_size) + " bytes, its header says " +
		       std::to_string(sb.file_size);
	return {};
}

Geometry geometry_of(const Superblock& sb)
{
	Geometry g;
	g.platform = sb.platform;
	g.rmm_base = sb.rmm_base;
	g.rmm_limit = sb.rmm_limit;
	g.shared_size = sb.shared_size;
	g.payload_limit = sb.payload_limit;
	g.core_count = sb.core_count;
	g.region_slots = sb.region_slots;
	g.pa_bits = sb.pa_bits;
	for (uint32_t i = 0; i < sb.dram_count && i < kMaxDramBanks; ++i)
		g.dram.push_back(MemRange{sb.dram[i].base, sb.dram[i].size});
	return g;
}

}  // namespace el3d::format
