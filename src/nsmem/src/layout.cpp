// Which physical memory the NS memory file holds, and its header.
#include "el3d/util/crc.hpp"
#include "el3d/util/numbers.hpp"
#include "nsformat.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace el3d {

std::vector<MemRange> ns_memory_ranges(const Geometry& g)
{
	std::vector<MemRange> in(g.dram.begin(), g.dram.end());
	if (const PlatformProfile* p = find_platform(g.platform))
		in.insert(in.end(), p->device_windows().begin(), p->device_windows().end());
	// Cut the carveout out of each range, then merge what overlaps.
	std::vector<MemRange> pieces;
	for (const MemRange& r : in) {
		const uint64_t below = std::min(r.end(), g.rmm_base), above = std::max(r.base, g.image_end());
		if (r.base < below)
			pieces.push_back({r.base, below - r.base});
		if (above < r.end())
			pieces.push_back({above, r.end() - above});
	}
	std::sort(pieces.begin(), pieces.end(), [](const MemRange& a, const MemRange& b) { return a.base < b.base; });
	std::vector<MemRange> out;
	for (const MemRange& p : pieces) {
		if (!out.empty() && p.base < out.back().end())
			out.back().size = std::max(out.back().end(), p.end()) - out.back().base;
		else
			out.push_back(p);
	}
	return out;
}

std::vector<NsWindow> ns_layout(const Geometry& g)
{
	std::vector<NsWindow> out;
	uint64_t off = kNsWindowAlign;
	for (const MemRange& r : ns_memory_ranges(g)) {
		out.push_back({r.base, r.size, off});
		off = (off + r.size + kNsWindowAlign - 1) & ~(kNsWindowAlign - 1);
	}
	return out;
}

namespace nsformat {

uint32_t header_crc(const Header& h) { return crc32(&h, offsetof(Header, crc)); }

Header make_header(const Geometry& g, const uint8_t carveout_id[16])
{
	const std::vector<NsWindow> w = ns_layout(g);
	if (w.size() > kMaxNsWindows)
		throw std::length_error("the platform has " + std::to_string(w.size()) + " Non-secure memory windows, more "
		                        "than the file's table holds (" + std::to_string(kMaxNsWindows) + ")");
	Header h{};
	std::memcpy(h.magic, kMagic, sizeof(kMagic));
	h.format_version = kVersion;
	h.header_size = sizeof(Header);
	if (::getrandom(h.id, sizeof(h.id), 0) != static_cast<ssize_t>(sizeof(h.id))) {
		const auto t = static_cast<uint64_t>(std::time(nullptr));
		std::memcpy(h.id, &t, sizeof(t));
	}
	std::memcpy(h.carveout_id, carveout_id, sizeof(h.carveout_id));
	std::strncpy(h.platform, g.platform.c_str(), sizeof(h.platform) - 1);
	h.file_size = w.empty() ? kHeaderArea : w.back().file_offset + w.back().size;
	h.created_unix = static_cast<uint64_t>(std::time(nullptr));
	h.window_count = static_cast<uint32_t>(w.size());
	for (std::size_t i = 0; i < w.size(); ++i)
		h.windows[i] = {w[i].base, w[i].size, w[i].file_offset};
	h.crc = header_crc(h);
	return h;
}

EpochRecord make_epoch(uint64_t epoch)
{
	EpochRecord r{};
	std::memcpy(r.magic, kEpochMagic, sizeof(kEpochMagic));
	r.epoch = epoch;
	r.crc = crc32(&r, offsetof(EpochRecord, crc));
	return r;
}

bool epoch_valid(const EpochRecord& r)
{
	return std::memcmp(r.magic, kEpochMagic, sizeof(kEpochMagic)) == 0 && r.crc == crc32(&r, offsetof(EpochRecord, crc));
}

std::string check_header(const Header& h, uint64_t file_size)
{
	if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0)
		return "not an el3d Non-secure memory file (bad magic)";
	if (h.format_version != kVersion)
		return "unsupported NS memory format version " + std::to_string(h.format_version) + " (this el3d reads " +
		       std::to_string(kVersion) + ")";
	if (h.header_size != sizeof(Header) || header_crc(h) != h.crc)
		return "corrupt header (checksum)";
	if (h.window_count > kMaxNsWindows || std::memchr(h.platform, 0, sizeof(h.platform)) == nullptr)
		return "corrupt header (fields)";
	uint64_t end = kHeaderArea;
	for (uint32_t i = 0; i < h.window_count; ++i) {
		const auto& w = h.windows[i];
		if (w.file_offset < end || w.file_offset % kNsWindowAlign != 0 || w.size == 0 ||
		    w.size > UINT64_MAX - w.file_offset || w.size > UINT64_MAX - w.base)
			return "corrupt header (window " + std::to_string(i) + ")";
		end = w.file_offset + w.size;
	}
	if (h.file_size != end)
		return "corrupt header (file size " + hex(h.file_size) + ", windows end at " + hex(end) + ")";
	if (file_size != h.file_size)
		return (file_size < h.file_size ? "truncated: " : "wrong size: ") + hex(file_size) + " bytes, the header says " +
		       hex(h.file_size);
	return {};
}

std::vector<NsWindow> windows_of(const Header& h)
{
	std::vector<NsWindow> out;
	for (uint32_t i = 0; i < h.window_count && i < kMaxNsWindows; ++i)
		out.push_back({h.windows[i].base, h.windows[i].size, h.windows[i].file_offset});
	return out;
}

}  // namespace nsformat
}  // namespace el3d
