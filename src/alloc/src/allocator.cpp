#include "el3d/alloc/allocator.hpp"

#include "el3d/util/numbers.hpp"

#include <ctime>

namespace el3d {

std::optional<uint64_t> place_top_down(uint64_t top, uint64_t floor, uint64_t size, unsigned align_bits)
{
	if (align_bits >= 64 || top < floor || size > top - floor)
		return std::nullopt;
	const uint64_t mask = (uint64_t{1} << align_bits) - 1;
	const uint64_t addr = (top - size) & ~mask;
	if (addr < floor)
		return std::nullopt;
	return addr;
}

Allocator::Allocator(Carveout& carveout) : carveout_(carveout) { reload(); }

void Allocator::reload()
{
	const Geometry& g = carveout_.geometry();
	top_ = g.rmm_limit;
	slot_record_.assign(g.region_slots, -1);
	const auto& recs = carveout_.log();
	for (std::size_t i = 0; i < recs.size(); ++i) {
		const AllocRecord& r = recs[i];
		if (r.addr < top_)
			top_ = r.addr;
		// A zero-sized request never claims its tag (the seed marks a slot used by its size).
		if (r.id != 0 && r.size != 0 && r.id < slot_record_.size() && slot_record_[r.id] < 0)
			slot_record_[r.id] = static_cast<int64_t>(i);
	}
}

std::optional<AllocRecord> Allocator::tagged(uint32_t id) const
{
	if (id == 0 || id >= slot_record_.size() || slot_record_[id] < 0)
		return std::nullopt;
	return records()[static_cast<std::size_t>(slot_record_[id])];
}

AllocOutcome Allocator::allocate(const AllocRequest& req)
{
	const Geometry& g = carveout_.geometry();

	if (auto existing = tagged(req.id)) {
		if (req.size > existing->size)
			return {AllocStatus::TooLarge, 0,
			        "region " + std::to_string(req.id) + " exists with " + std::to_string(existing->size) +
			            " bytes; " + std::to_string(req.size) + " requested"};
		return {AllocStatus::Existing, existing->addr, {}};
	}

	auto addr = place_top_down(top_, g.payload_limit, req.size, req.align_bits);
	if (!addr)
		return {AllocStatus::NoSpace, 0,
		        hex(req.size) + " bytes (" + human_size(req.size) + ") aligned to 2^" + std::to_string(req.align_bits) +
		            " do not fit: " + hex(top_ - g.payload_limit) + " bytes (" + human_size(top_ - g.payload_limit) +
		            ") left above the payload limit " + hex(g.payload_limit)};
	if (records().size() >= carveout_.log_capacity())
		return {AllocStatus::LogFull, 0,
		        "the allocation log is full (" + std::to_string(carveout_.log_capacity()) + " records)"};

	// Fresh memory reads as zero, whatever an earlier epoch left there.
	if (std::error_code ec = carveout_.zero(*addr, req.size))
		return {AllocStatus::StorageError, 0, "cannot back " + std::to_string(req.size) + " bytes: " + ec.message()};

	timespec ts{};
	::clock_gettime(CLOCK_REALTIME, &ts);
	AllocRecord rec;
	rec.addr = *addr;
	rec.size = req.size;
	rec.id = req.id;
	rec.cpu = req.cpu;
	rec.activation = req.activation;
	rec.time_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
	rec.align_bits = static_cast<uint8_t>(req.align_bits);
	rec.flags = static_cast<uint16_t>((req.after_boot_complete ? kAllocAfterBootComplete : 0) |
	                                  (req.local_cpu ? kAllocLocalCpu : 0));
	if (!carveout_.append(rec))  // durable before we return
		return {AllocStatus::LogFull, 0, "the allocation log is full"};

	top_ = *addr;
	if (req.id != 0 && req.size != 0)
		slot_record_[req.id] = static_cast<int64_t>(records().size() - 1);
	return {AllocStatus::Fresh, *addr, {}};
}

}  // namespace el3d
