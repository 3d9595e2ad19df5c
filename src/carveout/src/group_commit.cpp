// Group commit at Power durability: the changes of one batch (one SMC) are flushed by one flush, shared by
// every batch closed before it started (docs/persistence.md, "How changes are made durable").
#include "el3d/carveout/carveout.hpp"
#include "el3d/util/fd.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>

namespace el3d {

const char* durability_name(Durability d) { return d == Durability::Process ? "process" : "power"; }

std::optional<Durability> durability_from_name(std::string_view name)
{
	if (name == "process")
		return Durability::Process;
	if (name == "power")
		return Durability::Power;
	return std::nullopt;
}

void Carveout::begin_batch()
{
	batching_ = durability_ == Durability::Power;
	batch_.clear();
}

uint64_t Carveout::end_batch()
{
	if (!batching_)
		return 0;
	batching_ = false;
	if (batch_.empty())
		return 0;
	const std::lock_guard lock(gc_mu_);
	pending_.insert(pending_.end(), batch_.begin(), batch_.end());
	batch_.clear();
	++stats_.batches;
	return ++closed_;
}

FlushStats Carveout::flush_stats() const
{
	const std::lock_guard lock(gc_mu_);
	return stats_;
}

void Carveout::make_durable(uint64_t ticket) { wait_durable(ticket, true); }

void Carveout::wait_durable(uint64_t ticket, bool batch)
{
	if (ticket == 0)
		return;
	std::unique_lock lock(gc_mu_);
	bool led = false;
	for (;;) {
		if (flush_errno_ != 0)
			throw SystemError("flush " + path_ + " (the file is not written to again until el3d restarts)", flush_errno_);
		if (flushed_ >= ticket) {
			if (!led && batch)
				++stats_.grouped;
			return;
		}
		if (leader_) {  // a flush is under way: it may cover this ticket, or the next one will
			gc_cv_.wait(lock);
			continue;
		}
		// Lead: one flush for every batch closed so far.
		leader_ = true;
		led = true;
		std::vector<Dirty> ranges;
		ranges.swap(pending_);
		const uint64_t upto = closed_;
		flushing_upto_ = upto;
		lock.unlock();
		int err = 0;
		try {
			flush_ranges(ranges);
		} catch (const SystemError& e) {
			err = e.code();
		}
		lock.lock();
		++stats_.flushes;
		if (batch)
			++stats_.batch_flushes;
		leader_ = false;
		if (err != 0)
			flush_errno_ = err;
		else
			flushed_ = upto;
		gc_cv_.notify_all();
	}
}

void Carveout::flush_ranges(std::vector<Dirty>& ranges)
{
	if (ranges.empty())
		return;
	std::sort(ranges.begin(), ranges.end(), [](const Dirty& a, const Dirty& b) { return a.off < b.off; });
	// Coalesce ranges that overlap or touch within one mapping.
	std::vector<Dirty> merged;
	for (const Dirty& r : ranges) {
		if (!merged.empty()) {
			Dirty& m = merged.back();
			if (r.off <= m.off + m.len && m.addr + (r.off - m.off) == r.addr) {
				m.len = std::max(m.len, r.off + r.len - m.off);
				continue;
			}
		}
		merged.push_back(r);
	}
	// Every range but the last is written back and waited for (no cache flush, no journal commit); the
	// last one's msync(MS_SYNC) is the flush: it commits the file's metadata (fallocate) and flushes the
	// device's cache, which makes the earlier writes stable too.
	for (std::size_t i = 0; i + 1 < merged.size(); ++i) {
		const Dirty& r = merged[i];
		if (::sync_file_range(fd_, static_cast<off_t>(r.off), static_cast<off_t>(r.len),
		                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
			throw SystemError("write back " + path_, errno);
	}
	const Dirty& last = merged.back();
	if (::msync(last.addr, last.len, MS_SYNC) != 0)
		throw SystemError("sync " + path_, errno);
}

unsigned Carveout::next_state_copy()
{
	const unsigned other = 1 - current_copy_;
	if (durability_ == Durability::Process)
		return other;  // every write is in the page cache when it returns: the current copy is never torn later
	if (!batching_) {
		// Flushed at once: everything earlier batches wrote (maybe the current copy) is made durable first.
		uint64_t upto = 0;
		{
			const std::lock_guard lock(gc_mu_);
			upto = closed_;
		}
		wait_durable(upto, false);  // not an SMC's wait: not counted as one
		return other;
	}
	std::unique_lock lock(gc_mu_);
	const uint64_t t = copy_ticket_[current_copy_];
	if (t <= flushed_)
		return other;  // the current copy is durable: the older one is free
	if (t > flushing_upto_)
		return current_copy_;  // not durable and no flush has started on it: the other copy is the durable one
	// A flush is writing the current copy: overwriting it now could tear what that flush acknowledges.
	gc_cv_.wait(lock, [&] { return flushed_ >= t || flush_errno_ != 0; });
	if (flush_errno_ != 0)
		throw SystemError("flush " + path_ + " (the file is not written to again until el3d restarts)", flush_errno_);
	return other;
}

}  // namespace el3d
