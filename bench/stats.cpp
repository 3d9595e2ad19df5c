#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace el3d::bench {

namespace {
double rank(const std::vector<int64_t>& sorted, double q)
{
	const auto n = static_cast<double>(sorted.size());
	const auto idx = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n)) - 1);
	return static_cast<double>(sorted[std::min(idx, sorted.size() - 1)]) / 1e3;
}
}  // namespace

Latency summarize(std::vector<int64_t> ns)
{
	Latency l;
	if (ns.empty())
		return l;
	std::sort(ns.begin(), ns.end());
	l.n = ns.size();
	l.p50 = rank(ns, 0.50);
	l.p90 = rank(ns, 0.90);
	l.p99 = rank(ns, 0.99);
	l.max = static_cast<double>(ns.back()) / 1e3;
	const auto sum = std::accumulate(ns.begin(), ns.end(), int64_t{0});
	l.mean = static_cast<double>(sum) / static_cast<double>(ns.size()) / 1e3;
	return l;
}

double median(std::vector<double> v)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	const std::size_t m = v.size() / 2;
	return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace el3d::bench
