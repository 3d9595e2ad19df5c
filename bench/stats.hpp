#pragma once
// Latency summaries: per-call durations in, percentiles in microseconds out.
#include <cstdint>
#include <vector>

namespace el3d::bench {

struct Latency {
	uint64_t n = 0;
	double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;  // µs
};

// Nearest-rank percentiles (no interpolation: every figure is a call that really took that long).
Latency summarize(std::vector<int64_t> durations_ns);

// Median of a few repeated measurements (start times); 0 for none.
double median(std::vector<double> v);

}  // namespace el3d::bench
