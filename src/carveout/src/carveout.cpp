// A carveout file in use: the image, the GPT map, the allocation log and the state block, each
// change made durable as docs/persistence.md says.
#include "el3d/carveout/carveout.hpp"

#include "el3d/util/crc.hpp"
#include "el3d/util/fd.hpp"
#include "el3d/util/numbers.hpp"
#include "internal.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace el3d {

namespace {
using format::LogRecord;
using format::StateHeader;
constexpr uint64_t kPage = 0x1000;
}  // namespace

Carveout::~Carveout()
{
	if (image_ != nullptr) {
		flush(image_, image_offset_, geom_.image_size());
		::munmap(image_, geom_.image_size());
	}
	if (meta_ != nullptr)
		::munmap(meta_, meta_len_);
	if (gpt_ != nullptr) {
		flush(gpt_, gpt_offset_, gpt_size_);
		::munmap(gpt_, gpt_size_);
	}
	if (fd_ >= 0)
		::close(fd_);  // releases the flock
}

int Carveout::flush(void* addr, uint64_t off, uint64_t len)
{
	if (durability_ == Durability::Process)
		return 0;
	if (batching_) {
		batch_.push_back({static_cast<uint8_t*>(addr), off, len});
		return 0;
	}
	{
		const std::lock_guard lock(gc_mu_);
		++stats_.flushes;
	}
	return ::msync(addr, len, MS_SYNC);
}

std::string Carveout::uuid_string() const { return to_hex(uuid_.data(), uuid_.size()); }

bool Carveout::in_image(uint64_t pa, uint64_t len) const
{
	return pa >= geom_.rmm_base && pa <= geom_.image_end() && len <= geom_.image_end() - pa;
}

std::error_code Carveout::zero(uint64_t pa, uint64_t len)
{
	if (len == 0)
		return {};
	if (!in_image(pa, len))
		return std::make_error_code(std::errc::invalid_argument);
	const auto off = static_cast<off_t>(image_offset_ + (pa - geom_.rmm_base));
	const auto l = static_cast<off_t>(len);
	if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, l) != 0) {
		if (errno != EOPNOTSUPP && errno != EINVAL)
			return {errno, std::generic_category()};
		// Filesystems without ZERO_RANGE (tmpfs): punch, then reserve; else write zeros. A range with no data
		// (all holes, as after a reset) already reads as zero: only reserved.
		const bool holes = data_extents(static_cast<uint64_t>(off), len).empty();
		if (holes || ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, l) == 0) {
			if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, off, l) != 0 && errno != EOPNOTSUPP)
				return {errno, std::generic_category()};
		} else {
			std::memset(ptr(pa), 0, len);
		}
	}
	return sync(pa, len);
}

void Carveout::read_image(uint64_t pa, uint8_t* out, uint64_t len) const
{
	read_exact(fd_, out, len, image_offset_ + (pa - geom_.rmm_base), "read the image");
}

void Carveout::write_image(uint64_t pa, const uint8_t* data, uint64_t len)
{
	write_exact(fd_, data, len, image_offset_ + (pa - geom_.rmm_base), "write the image");
}

std::error_code Carveout::sync(uint64_t pa, uint64_t len)
{
	if (!in_image(pa, len))
		return std::make_error_code(std::errc::invalid_argument);
	const uint64_t start = (pa - geom_.rmm_base) & ~(kPage - 1);
	const uint64_t end = pa - geom_.rmm_base + len;
	if (flush(image_ + start, image_offset_ + start, std::max<uint64_t>(end - start, 1)) != 0)
		return {errno, std::generic_category()};
	return {};
}

std::error_code Carveout::sync_gpt(uint64_t offset, uint64_t len)
{
	if (offset > gpt_size_ || len > gpt_size_ - offset)
		return std::make_error_code(std::errc::invalid_argument);
	if (gpt_map_clear()) {
		gpt_dirty_lo_ = offset;
		gpt_dirty_hi_ = offset + len;
	} else {
		gpt_dirty_lo_ = std::min(gpt_dirty_lo_, offset);
		gpt_dirty_hi_ = std::max(gpt_dirty_hi_, offset + len);
	}
	const uint64_t start = offset & ~(kPage - 1);
	if (flush(gpt_ + start, gpt_offset_ + start, std::max<uint64_t>(offset + len - start, 1)) != 0)
		return {errno, std::generic_category()};
	return {};
}

std::vector<std::pair<uint64_t, uint64_t>> Carveout::data_extents(uint64_t off, uint64_t len) const
{
	std::vector<std::pair<uint64_t, uint64_t>> out;
	// A hole reads as zero on every file system that reports one.
	const auto end = static_cast<off_t>(off + len);
	for (auto at = static_cast<off_t>(off); at < end;) {
		const off_t data = ::lseek(fd_, at, SEEK_DATA);
		if ((data < 0 && errno == ENXIO) || (data >= 0 && data >= end))
			break;  // no data from here to the end of the range
		const off_t hole = data < 0 ? -1 : ::lseek(fd_, data, SEEK_HOLE);
		if (hole < 0) {
			out.assign(1, {off, off + len});  // cannot tell: all of it
			break;
		}
		out.emplace_back(static_cast<uint64_t>(data), static_cast<uint64_t>(std::min(hole, end)));
		at = hole;
	}
	return out;
}

std::vector<std::pair<uint64_t, uint64_t>> Carveout::gpt_map_extents(uint64_t offset, uint64_t len) const
{
	if (offset > gpt_size_ || len > gpt_size_ - offset || len == 0)
		return {};
	auto out = data_extents(gpt_offset_ + offset, len);
	for (auto& [lo, hi] : out) {
		lo -= gpt_offset_;
		hi -= gpt_offset_;
	}
	return out;
}

bool Carveout::append(const AllocRecord& rec)
{
	const uint64_t idx = log_.size();
	if (idx >= log_capacity_)
		return false;
	LogRecord r{};
	r.epoch = epoch_;
	r.seq = idx;
	r.addr = rec.addr;
	r.size = rec.size;
	r.activation = rec.activation;
	r.time_ns = rec.time_ns;
	r.id = rec.id;
	r.cpu = rec.cpu;
	r.flags = rec.flags;
	r.align_bits = rec.align_bits;
	r.crc = format::log_record_crc(r);
	const uint64_t off = log_offset_ + idx * sizeof(LogRecord);
	const uint64_t page = (off - state_offset_) & ~(kPage - 1);
	// The caller is told that the allocation failed if this throws, but the record may be in the page
	// cache (and reach the disk later), so it is voided; if even that cannot be flushed, the next
	// append, which takes the same slot, overwrites it.
	const LogRecord none{};
	write_metadata(&r, sizeof(r), off, page, kPage, &none, sizeof(none), true, rec.addr);
	log_.push_back(rec);
	return true;
}

int Carveout::sync_meta(uint64_t rel, uint64_t len)
{
	if (failing_syncs_ > 0) {
		--failing_syncs_;
		errno = EIO;
		return -1;
	}
	return flush(meta_ + rel, state_offset_ + rel, len);
}

void Carveout::write_state_copy(unsigned copy, uint64_t generation, uint64_t epoch, const nlohmann::json& doc)
{
	// The header's place, then the CBOR document appended behind it, in one buffer that each commit reuses.
	state_buf_.assign(sizeof(StateHeader), 0);
	nlohmann::json::to_cbor(doc, state_buf_);
	write_state_buf(copy, generation, epoch);
}

void Carveout::write_state_copy(unsigned copy, uint64_t generation, uint64_t epoch, std::span<const uint8_t> cbor)
{
	state_buf_.assign(sizeof(StateHeader), 0);
	state_buf_.insert(state_buf_.end(), cbor.begin(), cbor.end());
	write_state_buf(copy, generation, epoch);
}

void Carveout::write_state_buf(unsigned copy, uint64_t generation, uint64_t epoch)
{
	std::vector<uint8_t>& buf = state_buf_;
	const std::size_t cbor_size = buf.size() - sizeof(StateHeader);
	if (cbor_size > state_copy_size_ - sizeof(StateHeader))
		throw std::length_error("state document of " + std::to_string(cbor_size) +
		                        " bytes does not fit the state block");
	StateHeader h{};
	std::memcpy(h.magic, format::kStateMagic, sizeof(h.magic));
	h.generation = generation;
	h.epoch = epoch;
	h.payload_len = static_cast<uint32_t>(cbor_size);
	h.crc = crc32(buf.data() + sizeof(h), cbor_size, crc32(&h, sizeof(h)));
	std::memcpy(buf.data(), &h, sizeof(h));
	const uint64_t off = state_offset_ + copy * state_copy_size_;
	const uint64_t rel = off - state_offset_;
	// As in append(): a copy the caller was told did not commit must not win the next open. Voiding
	// its header leaves the current copy, which is what the daemon keeps using.
	const StateHeader none{};
	write_metadata(buf.data(), buf.size(), off, rel, (buf.size() + kPage - 1) & ~(kPage - 1), &none, sizeof(none),
	               false, 0);
	// In a batch the copy is durable once the batch's ticket (the next one end_batch() hands out) is.
	copy_ticket_[copy] = batching_ ? closed_ + 1 : 0;
}

void Carveout::write_metadata(const void* data, std::size_t n, uint64_t off, uint64_t rel, uint64_t sync_len,
                              const void* voided, std::size_t voided_n, bool log_record, uint64_t addr)
{
	// Messages only on failure: this runs for every allocation and state change.
	auto what = [&] { return (log_record ? "allocation log of " : "state of ") + path_; };
	try {
		// write_exact(), with its message built only if it fails.
		const auto* p = static_cast<const char*>(data);
		for (std::size_t left = n; left > 0;) {
			const ssize_t w = ::pwrite(fd_, p, left, static_cast<off_t>(off + (n - left)));
			if (w < 0) {
				const int err = errno;
				if (err == EINTR)
					continue;
				throw SystemError("write " + what(), err);
			}
			p += w;
			left -= static_cast<std::size_t>(w);
		}
		if (sync_meta(rel, sync_len) != 0) {
			const int err = errno;
			throw SystemError("sync " + what(), err);
		}
	} catch (const SystemError&) {
		try {
			write_exact(fd_, voided, voided_n, off, "void " + what());
			if (sync_meta(rel, kPage) != 0) {
				const int err = errno;
				throw SystemError("sync " + what(), err);
			}
		} catch (const SystemError& e) {
			spdlog::error("{}: {}", e.what(),
			              log_record ? "the record of the failed allocation at " + hex(addr) +
			                               " may survive a restart of el3d unless another allocation succeeds first"
			                         : std::string("the state change that failed may survive a restart of el3d "
			                                       "unless another one succeeds first"));
		}
		throw;
	}
}

void Carveout::commit_state(const nlohmann::json& doc)
{
	const unsigned next = next_state_copy();
	write_state_copy(next, generation_ + 1, epoch_, doc);
	current_copy_ = next;
	++generation_;
	state_ = doc;
	state_stale_ = false;
	reset_pending_ = doc.contains(kResetPendingKey);
}

void Carveout::commit_state(nlohmann::json&& doc)
{
	const unsigned next = next_state_copy();
	write_state_copy(next, generation_ + 1, epoch_, doc);
	current_copy_ = next;
	++generation_;
	reset_pending_ = doc.contains(kResetPendingKey);
	state_ = std::move(doc);
	state_stale_ = false;
}

void Carveout::commit_state_cbor(std::span<const uint8_t> cbor)
{
	const unsigned next = next_state_copy();
	write_state_copy(next, generation_ + 1, epoch_, cbor);
	current_copy_ = next;
	++generation_;
	reset_pending_ = false;
	// Decoded only when someone asks (state()): a commit builds no JSON tree.
	state_cbor_.assign(cbor.begin(), cbor.end());
	state_stale_ = true;
}

const nlohmann::json& Carveout::state() const
{
	if (state_stale_) {
		state_ = nlohmann::json::from_cbor(state_cbor_);
		state_stale_ = false;
	}
	return state_;
}

void Carveout::reset(const nlohmann::json& fresh_state)
{
	nlohmann::json doc = fresh_state;
	doc[kResetPendingKey] = true;
	const unsigned next = next_state_copy();
	write_state_copy(next, generation_ + 1, epoch_ + 1, doc);  // the commit point
	state_ = std::move(doc);
	state_stale_ = false;
	reset_committed(next);
}

void Carveout::reset_cbor(std::span<const uint8_t> fresh_cbor)
{
	const unsigned next = next_state_copy();
	write_state_copy(next, generation_ + 1, epoch_ + 1, fresh_cbor);  // the commit point
	state_cbor_.assign(fresh_cbor.begin(), fresh_cbor.end());
	state_stale_ = true;
	reset_committed(next);
}

void Carveout::reset_committed(unsigned copy)
{
	current_copy_ = copy;
	++generation_;
	++epoch_;
	reset_pending_ = true;
	log_.clear();
	crash_point("reset:committed");
	clear_image_and_gpt();
}

void Carveout::clear_image_and_gpt()
{
	// The image reads as zero with its blocks given back, and every granule is back to its range's initial
	// PAS. Of the GPT map, only what may have been written since the last reset is cleared (all of it once
	// after an open), so that a reset costs what was used; punched, so that the next open skips it as a hole
	// (gpt_map_extents()). The map and the image are neighbours in the file (only padding that is never
	// written between them): one punch clears both, and a punch costs about the same whatever its length.
	const uint64_t lo = std::min(gpt_dirty_lo_, gpt_size_) & ~(kPage - 1);
	const uint64_t hi = std::min(gpt_dirty_hi_, gpt_size_);
	const uint64_t end = image_offset_ + geom_.image_size();
	const bool neighbours = image_offset_ == format::align_up(gpt_offset_ + gpt_size_, format::kAreaAlign);
	const uint64_t from = hi > lo && neighbours ? gpt_offset_ + lo : image_offset_;
	const bool image_punched =
	    ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from), static_cast<off_t>(end - from)) == 0;
	if (!image_punched)
		std::memset(image_, 0, geom_.image_size());
	if (flush(image_, image_offset_, geom_.image_size()) != 0)
		spdlog::warn("reset: cannot sync image of {}: {}", path_, std::strerror(errno));
	crash_point("reset:image-cleared");
	const bool gpt_punched =
	    hi <= lo || (image_punched && from == gpt_offset_ + lo) ||
	    ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(gpt_offset_ + lo), static_cast<off_t>(hi - lo)) == 0;
	if (!gpt_punched) {
		static const uint8_t zeros[kPage] = {};
		for (uint64_t p = lo; p < hi; p += kPage) {
			const uint64_t n = std::min<uint64_t>(kPage, gpt_size_ - p);
			if (std::memcmp(gpt_ + p, zeros, n) != 0)
				std::memset(gpt_ + p, 0, n);
		}
	}
	if (hi > lo && flush(gpt_ + lo, gpt_offset_ + lo, hi - lo) != 0)
		spdlog::warn("reset: cannot sync the GPT of {}: {}", path_, std::strerror(errno));
	gpt_dirty_lo_ = UINT64_MAX;
	gpt_dirty_hi_ = 0;
	crash_point("reset:gpt-cleared");
}

}  // namespace el3d
