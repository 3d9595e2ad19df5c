// Validating a carveout file with reads only, then mapping it (Carveout::map_and_load).
#include "el3d/carveout/carveout.hpp"

#include "el3d/util/crc.hpp"
#include "el3d/util/fd.hpp"
#include "internal.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace el3d {

using detail::classify;
using detail::refuse;
using detail::state_copy_valid;
using format::LogRecord;
using format::StateHeader;
using format::Superblock;

CarveoutRefusal detail::classify(const std::string& why)
{
	if (why.rfind("not an el3d", 0) == 0)
		return CarveoutRefusal::NotCarveout;
	if (why.rfind("unsupported", 0) == 0)
		return CarveoutRefusal::UnsupportedVersion;
	if (why.rfind("truncated", 0) == 0 || why.rfind("wrong size", 0) == 0)
		return CarveoutRefusal::Truncated;
	return CarveoutRefusal::Corrupt;
}


bool detail::state_copy_valid(const StateHeader& h, const uint8_t* payload, uint64_t copy_size)
{
	if (std::memcmp(h.magic, format::kStateMagic, sizeof(h.magic)) != 0)
		return false;
	if (h.payload_len > copy_size - sizeof(StateHeader))
		return false;
	StateHeader z = h;
	z.crc = 0;
	uint32_t crc = crc32(&z, sizeof(z));
	crc = crc32(payload, h.payload_len, crc);
	return crc == h.crc;
}

Superblock detail::read_superblock(int fd, const std::string& path)
{
	struct stat st {};
	if (::fstat(fd, &st) != 0)
		refuse(CarveoutRefusal::Io, path, std::string("cannot stat: ") + std::strerror(errno));
	if (!S_ISREG(st.st_mode))
		refuse(CarveoutRefusal::NotCarveout, path, "not a regular file");
	const auto size = static_cast<uint64_t>(st.st_size);
	if (size == 0)
		refuse(CarveoutRefusal::NotCarveout, path, "not an el3d carveout file (empty)");

	Superblock sb{};
	if (size < sizeof(sb)) {
		char magic[sizeof(format::kMagic)] = {};
		read_exact(fd, magic, std::min<uint64_t>(size, sizeof(magic)), 0, "read " + path);
		if (size >= sizeof(magic) && std::memcmp(magic, format::kMagic, sizeof(magic)) == 0)
			refuse(CarveoutRefusal::Truncated, path, "truncated: only " + std::to_string(size) + " bytes");
		refuse(CarveoutRefusal::NotCarveout, path, "not an el3d carveout file (bad magic)");
	}
	read_exact(fd, &sb, sizeof(sb), 0, "read header of " + path);
	if (std::string why = format::check_superblock(sb, size); !why.empty())
		refuse(classify(why), path, why + (classify(why) == CarveoutRefusal::NotCarveout
		                                        ? "; refusing to touch it (use another path, or --reset to overwrite)"
		                                        : "; refusing to touch it (--reset recreates it, erasing it)"));
	return sb;
}

void Carveout::map_and_load(bool created)
{
	created_ = created;
	// --- everything below reads only, until the mappings are made -----------------------------
	const Superblock sb = detail::read_superblock(fd_, path_);
	geom_ = format::geometry_of(sb);
	std::memcpy(uuid_.data(), sb.uuid, uuid_.size());
	file_size_ = sb.file_size;
	state_offset_ = sb.state_offset;
	state_copy_size_ = sb.state_copy_size;
	log_offset_ = sb.log_offset;
	log_capacity_ = sb.log_capacity;
	image_offset_ = sb.image_offset;
	gpt_offset_ = sb.gpt_offset;
	gpt_size_ = sb.gpt_size;
	gpt_ranges_ = gpt_layout(geom_);

	load_metadata();

	// --- validated: map --------------------------------------------------------------------------
	meta_len_ = gpt_offset_ - state_offset_;
	void* m = ::mmap(nullptr, meta_len_, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(state_offset_));
	if (m == MAP_FAILED)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot map metadata: ") + std::strerror(errno));
	meta_ = static_cast<uint8_t*>(m);
	void* gm = ::mmap(nullptr, gpt_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(gpt_offset_));
	if (gm == MAP_FAILED)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot map the GPT: ") + std::strerror(errno));
	gpt_ = static_cast<uint8_t*>(gm);
	void* im = ::mmap(nullptr, geom_.image_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
	                  static_cast<off_t>(image_offset_));
	if (im == MAP_FAILED)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot map image: ") + std::strerror(errno));
	image_ = static_cast<uint8_t*>(im);
}

// The state block and the allocation log, read from the file (through the page cache, so what the
// mappings wrote is seen): on open, and again after a restore rewrote them (reload()).
void Carveout::load_metadata()
{
	log_.clear();
	copy_ticket_ = {};  // whatever is read here is what the file holds
	// State block: the valid copy with the higher generation.
	std::vector<uint8_t> copy[2];
	StateHeader hdr[2]{};
	bool valid[2] = {false, false};
	for (unsigned i = 0; i < 2; ++i) {
		const uint64_t off = state_offset_ + i * state_copy_size_;
		read_exact(fd_, &hdr[i], sizeof(StateHeader), off, "read state of " + path_);
		if (hdr[i].payload_len <= state_copy_size_ - sizeof(StateHeader)) {
			copy[i].resize(hdr[i].payload_len);
			if (!copy[i].empty())
				read_exact(fd_, copy[i].data(), copy[i].size(), off + sizeof(StateHeader), "read state of " + path_);
			valid[i] = state_copy_valid(hdr[i], copy[i].data(), state_copy_size_);
		}
	}
	if (!valid[0] && !valid[1])
		refuse(CarveoutRefusal::Corrupt, path_,
		       "corrupt metadata (no valid state block); refusing to touch it (--reset recreates it, erasing it)");
	unsigned cur = (valid[0] && valid[1]) ? (hdr[1].generation > hdr[0].generation ? 1u : 0u) : (valid[0] ? 0u : 1u);
	try {
		state_ = nlohmann::json::from_cbor(copy[cur]);
		state_stale_ = false;
	} catch (const nlohmann::json::exception& e) {
		refuse(CarveoutRefusal::Corrupt, path_, std::string("corrupt metadata (state document): ") + e.what());
	}
	if (!state_.is_object())
		refuse(CarveoutRefusal::Corrupt, path_, "corrupt metadata (state document is not an object)");
	reset_pending_ = state_.contains(kResetPendingKey);
	current_copy_ = cur;
	generation_ = hdr[cur].generation;
	epoch_ = hdr[cur].epoch;

	// Allocation log: records of this epoch, in order, up to the first one that is not.
	std::vector<LogRecord> buf(std::min<uint64_t>(4096, log_capacity_));
	for (uint64_t idx = 0; idx < log_capacity_;) {
		const uint64_t n = std::min<uint64_t>(buf.size(), log_capacity_ - idx);
		read_exact(fd_, buf.data(), n * sizeof(LogRecord), log_offset_ + idx * sizeof(LogRecord),
		           "read allocation log of " + path_);
		bool end = false;
		for (uint64_t i = 0; i < n; ++i, ++idx) {
			const LogRecord& r = buf[i];
			if (r.epoch != epoch_ || r.seq != idx || format::log_record_crc(r) != r.crc) {
				end = true;
				break;
			}
			const bool inside = r.addr >= geom_.rmm_base && r.size <= geom_.rmm_limit - r.addr &&
			                    r.addr <= geom_.rmm_limit;
			if (!inside || r.id >= geom_.region_slots)
				refuse(CarveoutRefusal::Corrupt, path_,
				       "corrupt metadata (allocation log record " + std::to_string(idx) + " lies outside the carveout)");
			log_.push_back(AllocRecord{r.addr, r.size, r.activation, r.time_ns, r.id, r.cpu, r.flags, r.align_bits});
		}
		if (end)
			break;
	}
}

}  // namespace el3d
