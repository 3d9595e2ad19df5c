// (f) in the report: the shim's fast path beside its stream and the raw socket floor, and its targets.
#include "report.hpp"

#include <cstdarg>

namespace el3d::bench {

namespace {

__attribute__((format(printf, 2, 3))) void line(std::FILE* out, const char* format, ...)
{
	va_list ap;
	va_start(ap, format);
	std::vfprintf(out, format, ap);
	va_end(ap);
	std::fputc('\n', out);
}

const FastRow* find(const Results& r, Placement p, FastPeer peer, unsigned cpus)
{
	for (const auto& row : r.fastpath)
		if (row.placement == p && row.peer == peer && row.run.cpus == cpus)
			return &row;
	return nullptr;
}

// The targets: p50 at or below the raw socket ping-pong of the same run, every placement; p50 <= 1 us
// unpinned with 1 CPU on an idle machine.
constexpr double kIdleTargetUs = 1.0;

const SectionLoad* load_of(const Results& r, const char* section)
{
	for (const auto& l : r.load)
		if (l.section == section)
			return &l;
	return nullptr;
}

}  // namespace

void print_fastpath(std::FILE* out, const Results& r)
{
	const Counts& c = r.counts;
	line(out, "(f) SMC round trip through el3client's shared-memory fast path (unknown FID -> SMC_UNK), beside the");
	line(out, "    shim over its gRPC stream (e) and a raw Unix socket ping-pong (0) in the same placement; each CPU its");
	line(out, "    own thread; %llu timed calls per CPU after %llu warm-up, the three taking turns in blocks of %llu; us",
	     static_cast<unsigned long long>(c.calls), static_cast<unsigned long long>(c.warmup),
	     static_cast<unsigned long long>(c.block));
	line(out, "  %-9s %4s %-20s %8s %8s %8s %8s %9s   %s", "placement", "CPUs", "client", "p50", "p90", "p99", "mean",
	     "calls/s", "CPU us/call client + server");
	for (Placement p : {Placement::SameCpu, Placement::SplitCpu, Placement::Unpinned}) {
		for (unsigned cpus : {1u, 2u}) {
			for (FastPeer peer : {FastPeer::Raw, FastPeer::Stream, FastPeer::FastPath}) {
				const FastRow* row = find(r, p, peer, cpus);
				if (row == nullptr)
					continue;
				const Latency& l = row->run.latency;
				line(out, "  %-9s %4u %-20s %8.2f %8.2f %8.2f %8.2f %9.0f   %.2f + %.2f", name(p), cpus, name(peer),
				     l.p50, l.p90, l.p99, l.mean, row->run.calls_per_s, row->run.client_cpu_us,
				     row->run.server_cpu_us);
			}
			const FastRow* f = find(r, p, FastPeer::FastPath, cpus);
			const FastRow* raw = find(r, p, FastPeer::Raw, cpus);
			if (f != nullptr && raw != nullptr && raw->run.latency.p50 > 0)
				line(out, "  %-9s %4u fast path / raw UDS at p50: %.3f (target <= 1, at or below the socket floor: %s)",
				     name(p), cpus, f->run.latency.p50 / raw->run.latency.p50,
				     f->run.latency.p50 <= raw->run.latency.p50 ? "met" : "NOT MET");
		}
	}
	if (const FastRow* f = find(r, Placement::Unpinned, FastPeer::FastPath, 1)) {
		const SectionLoad* l = load_of(r, "f");
		line(out, "  unpinned 1 CPU fast path p50 %.3f us (target <= %.1f us on an idle machine: %s; other processes used "
		     "%.0f %% of the CPUs during (f))",
		     f->run.latency.p50, kIdleTargetUs, f->run.latency.p50 <= kIdleTargetUs ? "met" : "NOT MET",
		     l != nullptr ? l->load.others_pct : 0.0);
	}
}

nlohmann::json fastpath_json(const Results& r)
{
	nlohmann::json rows = nlohmann::json::array();
	for (const auto& row : r.fastpath) {
		const Latency& l = row.run.latency;
		rows.push_back({{"placement", name(row.placement)},
		                {"client", name(row.peer)},
		                {"cpus", row.run.cpus},
		                {"latency", {{"n", l.n}, {"p50_us", l.p50}, {"p90_us", l.p90}, {"p99_us", l.p99},
		                             {"mean_us", l.mean}, {"max_us", l.max}}},
		                {"calls_per_s", row.run.calls_per_s},
		                {"client_cpu_us_per_call", row.run.client_cpu_us},
		                {"server_cpu_us_per_call", row.run.server_cpu_us}});
	}
	nlohmann::json targets;
	for (Placement p : {Placement::SameCpu, Placement::SplitCpu, Placement::Unpinned})
		for (unsigned cpus : {1u, 2u}) {
			const FastRow* f = find(r, p, FastPeer::FastPath, cpus);
			const FastRow* raw = find(r, p, FastPeer::Raw, cpus);
			if (f != nullptr && raw != nullptr)
				targets["at_or_below_raw_uds"][name(p)][std::to_string(cpus)] = f->run.latency.p50 <= raw->run.latency.p50;
		}
	if (const FastRow* f = find(r, Placement::Unpinned, FastPeer::FastPath, 1))
		targets["p50_at_most_1us_unpinned"] = f->run.latency.p50 <= kIdleTargetUs;
	return {{"rows", rows}, {"targets", targets}};
}

}  // namespace el3d::bench
