#pragma once
// fuzz_dispatch's record of the bytes an input wrote into the RMM image, as they must read back: a value and a
// "written" mark per byte of the image in two flat arrays (kept across inputs), and the runs written, so that
// checking, forgetting and clearing cost what the input wrote rather than the image's size.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace el3d::fuzz {

class Shadow {
public:
	struct Run {
		uint64_t lo, hi;  // [lo, hi): bytes the input wrote there (some may be forgotten since)
	};

	// Covers [base, base + size) from now on; starts empty.
	void cover(uint64_t base, uint64_t size)
	{
		clear();
		base_ = base;
		if (value_.size() < size) {
			value_.assign(size, 0);
			written_.assign(size, 0);
		}
		size_ = size;
	}

	// `n` bytes written at `pa`; the part outside what is covered is not recorded.
	void write(uint64_t pa, const uint8_t* p, uint64_t n)
	{
		const uint64_t lo = std::max(pa, base_), hi = std::min(pa + n, base_ + size_);
		if (lo >= hi)
			return;
		std::copy(p + (lo - pa), p + (hi - pa), value_.begin() + static_cast<std::ptrdiff_t>(lo - base_));
		std::fill_n(written_.begin() + static_cast<std::ptrdiff_t>(lo - base_), hi - lo, uint8_t{1});
		runs_.push_back({lo, hi});
	}

	// The runs that meet [lo, hi), cut to it (runs may overlap: a byte can be visited more than once).
	template <class F>
	void each_run_in(uint64_t lo, uint64_t hi, F&& f) const
	{
		for (const Run& r : runs_)
			if (r.lo < hi && lo < r.hi)
				f(Run{std::max(r.lo, lo), std::min(r.hi, hi)});
	}
	const std::vector<Run>& runs() const { return runs_; }

	// Whether the byte at `pa` (inside a run) is still recorded, and the value it must read.
	bool written(uint64_t pa) const { return written_[pa - base_] != 0; }
	uint8_t value(uint64_t pa) const { return value_[pa - base_]; }

	// [lo, hi) now holds something else (a fresh region): what was written there is no longer expected.
	void forget(uint64_t lo, uint64_t hi)
	{
		each_run_in(lo, hi, [&](Run r) {
			std::fill_n(written_.begin() + static_cast<std::ptrdiff_t>(r.lo - base_), r.hi - r.lo, uint8_t{0});
		});
	}

	void clear()
	{
		for (const Run& r : runs_)
			std::fill_n(written_.begin() + static_cast<std::ptrdiff_t>(r.lo - base_), r.hi - r.lo, uint8_t{0});
		runs_.clear();
	}

private:
	uint64_t base_ = 0, size_ = 0;
	std::vector<uint8_t> value_, written_;
	std::vector<Run> runs_;
};

}  // namespace el3d::fuzz
