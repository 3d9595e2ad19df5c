#include "report.hpp"

#include "el3d/util/numbers.hpp"

#include <algorithm>
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

const SmcRow* find(const Results& r, Placement p, Server s, uint64_t fid = kQuietUnknownFid)
{
	for (const auto& row : r.smc)
		if (row.placement == p && row.server == s && (s == Server::Echo || row.fid == fid))
			return &row;
	return nullptr;
}

// a's p50 over b's; 0 if either is missing.
template <class Row>
double ratio_p50(const Row* a, const Row* b)
{
	return a != nullptr && b != nullptr && b->run.latency.p50 > 0 ? a->run.latency.p50 / b->run.latency.p50 : 0;
}

// el3d's p50 over the echo server's, same placement; 0 if either row is missing.
double p50_ratio(const Results& r, Placement p, uint64_t fid)
{
	return ratio_p50(find(r, p, Server::El3d, fid), find(r, p, Server::Echo));
}

const SessionRow* find_session(const Results& r, Placement p, SessionPeer peer, unsigned cpus)
{
	for (const auto& row : r.sessions)
		if (row.placement == p && row.peer == peer && row.run.cpus == cpus)
			return &row;
	return nullptr;
}

// The shim's p50 over the bare stream echo's, same placement and CPU count; 0 if either row is missing.
double session_p50_ratio(const Results& r, Placement p, unsigned cpus)
{
	return ratio_p50(find_session(r, p, SessionPeer::Shim, cpus), find_session(r, p, SessionPeer::Echo, cpus));
}

// The target of the shim's sessions: within this factor of a bare bidirectional-stream echo at p50.
constexpr double kSessionTarget = 1.15;

double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

nlohmann::json latency_json(const Latency& l)
{
	return {{"n", l.n},           {"p50_us", l.p50},   {"p90_us", l.p90},
	        {"p99_us", l.p99},    {"mean_us", l.mean}, {"max_us", l.max}};
}

nlohmann::json alloc_json(const AllocRun& a)
{
	return {{"durability", a.durability}, {"clients", a.clients}, {"attempted", a.attempted}, {"fresh", a.fresh},
	        {"failed", a.failed},       {"first_error", a.first_error}, {"seconds", a.seconds},
	        {"allocs_per_s", a.per_s},  {"latency", latency_json(a.latency)}, {"regions_in_state", a.regions},
	        {"regions_match", a.regions_match()}};
}

void print_a(std::FILE* out, const Results& r)
{
	const Counts& c = r.counts;
	line(out, "(a) SMC round trip, unknown FID -> SMC_UNK (touches no disk); 1 client, sequential calls;");
	line(out, "    %llu timed calls after %llu warm-up per row, rows taking turns in blocks of %llu; latency in us",
	     static_cast<unsigned long long>(c.calls), static_cast<unsigned long long>(c.warmup),
	     static_cast<unsigned long long>(c.block));
	line(out, "  %-9s %-10s %-11s %8s %8s %8s %8s %9s   %s", "placement", "server", "FID", "p50", "p90", "p99", "mean",
	     "calls/s", "CPU us/call client + server");
	for (Placement p : {Placement::SameCpu, Placement::Unpinned}) {
		for (const auto& row : r.smc) {
			if (row.placement != p)
				continue;
			const Latency& l = row.run.latency;
			const std::string fid =
			    row.server == Server::Echo ? "-" : hex(row.fid) + (row.fid == kWarnedUnknownFid ? " *" : "");
			line(out, "  %-9s %-10s %-11s %8.1f %8.1f %8.1f %8.1f %9.0f   %.1f + %.1f", name(p), name(row.server),
			     fid.c_str(), l.p50, l.p90, l.p99, l.mean, row.run.calls_per_s, row.run.client_cpu_us,
			     row.run.server_cpu_us);
		}
		const SmcRow* d = find(r, p, Server::El3d);
		const SmcRow* e = find(r, p, Server::Echo);
		if (d != nullptr && e != nullptr)
			line(out, "  %-9s el3d / echo at p50: %.2f (%+.1f us); with the warning line (*): %.2f", name(p),
			     p50_ratio(r, p, kQuietUnknownFid), d->run.latency.p50 - e->run.latency.p50,
			     p50_ratio(r, p, kWarnedUnknownFid));
	}
	line(out, "  * inside the RMM-EL3 range but not implemented: el3d logs a warning per call (to a file here)");
}

void print_b(std::FILE* out, const Results& r)
{
	line(out, "(b) RMM_ALLOCATE_MEMORY round trip (FID 0xC40001B7, x1 = 64, x2 = 0: untagged) at each durability");
	line(out, "    level: power flushes the allocation to the carveout file (one msync) before it answers, process");
	line(out, "    leaves it in the file's page cache; 1 client, unpinned; us");
	line(out, "  %-10s %11s %8s %8s %8s %8s %8s %9s   %s", "durability", "allocations", "p50", "p90", "p99", "mean", "max",
	     "allocs/s", "regions in GetState");
	for (const AllocRun& a : r.alloc_latency) {
		line(out, "  %-10s %11llu %8.1f %8.1f %8.1f %8.1f %8.1f %9.0f   %llu%s", a.durability.c_str(),
		     static_cast<unsigned long long>(a.fresh), a.latency.p50, a.latency.p90, a.latency.p99, a.latency.mean,
		     a.latency.max, a.per_s, static_cast<unsigned long long>(a.regions),
		     a.regions_match() ? " (= allocations)" : " (MISMATCH)");
		if (a.failed > 0)
			line(out, "  %llu allocations failed, first: %s", static_cast<unsigned long long>(a.failed),
			     a.first_error.c_str());
	}
}

void print_c(std::FILE* out, const Results& r)
{
	const Counts& c = r.counts;
	line(out, "(c) RMM_ALLOCATE_MEMORY throughput; unpinned; each client its own connection and CPU number;");
	line(out, "    %llu allocations per run, a fresh daemon (--rmm-size 0x40000000) per run",
	     static_cast<unsigned long long>(c.allocs));
	line(out, "  %-10s %7s %11s %8s %9s %8s %8s   %s", "durability", "clients", "allocations", "seconds", "allocs/s",
	     "p50 us", "p99 us", "regions in GetState");
	for (const AllocRun& t : r.alloc_rate) {
		line(out, "  %-10s %7u %11llu %8.2f %9.0f %8.1f %8.1f   %llu%s", t.durability.c_str(), t.clients,
		     static_cast<unsigned long long>(t.fresh),
		     t.seconds, t.per_s, t.latency.p50, t.latency.p99, static_cast<unsigned long long>(t.regions),
		     t.regions_match() ? " (= allocations)" : " (MISMATCH)");
		if (t.failed > 0)
			line(out, "          %llu allocations failed, first: %s", static_cast<unsigned long long>(t.failed),
			     t.first_error.c_str());
	}
}

void print_d(std::FILE* out, const Results& r)
{
	const StartRun& s = r.start;
	line(out, "(d) daemon start, platform %s (image %s): spawn -> first GetState answered; %zu starts each; ms",
	     s.platform.c_str(), human_size(s.image_size).c_str(), s.created_ms.size());
	line(out, "  %-28s %8s %8s %8s   %s", "carveout file", "median", "min", "max", "VmRSS after start");
	line(out, "  %-28s %8.1f %8.1f %8.1f   %s", "new (created)", median(s.created_ms), min_of(s.created_ms),
	     max_of(s.created_ms), human_size(s.rss_created).c_str());
	line(out, "  %-28s %8.1f %8.1f %8.1f   %s", "existing (reopened)", median(s.reopened_ms), min_of(s.reopened_ms),
	     max_of(s.reopened_ms), human_size(s.rss_reopened).c_str());
	line(out, "  carveout file: apparent size %s (%llu bytes), allocated %s (%llu bytes, st_blocks * 512)",
	     human_size(s.file.apparent).c_str(), static_cast<unsigned long long>(s.file.apparent),
	     human_size(s.file.allocated).c_str(), static_cast<unsigned long long>(s.file.allocated));
}

void print_e(std::FILE* out, const Results& r)
{
	const Counts& c = r.counts;
	line(out, "(e) SMC round trip through el3client's CPU sessions (el3_smc on a session, unknown FID -> SMC_UNK), beside");
	line(out, "    a bare gRPC bidirectional-stream echo with the same channel settings; each CPU its own thread and");
	line(out, "    connection; %llu timed calls per CPU after %llu warm-up, the two taking turns in blocks of %llu; us",
	     static_cast<unsigned long long>(c.calls), static_cast<unsigned long long>(c.warmup),
	     static_cast<unsigned long long>(c.block));
	line(out, "  %-9s %4s %-10s %8s %8s %8s %8s %9s   %s", "placement", "CPUs", "client", "p50", "p90", "p99", "mean",
	     "calls/s", "CPU us/call client + server");
	for (Placement p : {Placement::SameCpu, Placement::Unpinned}) {
		for (unsigned cpus : {1u, 2u}) {
			for (SessionPeer peer : {SessionPeer::Shim, SessionPeer::Echo}) {
				const SessionRow* row = find_session(r, p, peer, cpus);
				if (row == nullptr)
					continue;
				const Latency& l = row->run.latency;
				line(out, "  %-9s %4u %-10s %8.1f %8.1f %8.1f %8.1f %9.0f   %.1f + %.1f", name(p), cpus, name(peer),
				     l.p50, l.p90, l.p99, l.mean, row->run.calls_per_s, row->run.client_cpu_us,
				     row->run.server_cpu_us);
			}
			if (const double q = session_p50_ratio(r, p, cpus); q > 0)
				line(out, "  %-9s %4u el3client / echo at p50: %.2f (target <= %.2f: %s)", name(p), cpus, q,
				     kSessionTarget, q <= kSessionTarget ? "met" : "NOT MET");
		}
	}
}

}  // namespace

void print_report(std::FILE* out, const Results& r)
{
	const Machine& m = r.machine;
	const Counts& c = r.counts;
	line(out, "el3d_bench: el3d %s (%s)%s", m.el3d_version.c_str(), m.el3d_path.c_str(), c.quick ? ", QUICK RUN" : "");
	line(out, "machine: %d CPUs (%s), %s, /tmp on %s; gRPC %s, protobuf %s", m.cpus, m.cpu_model.c_str(),
	     m.kernel.c_str(), m.tmp_fs.c_str(), m.grpc_version.c_str(), m.protobuf_version.c_str());
	std::fputc('\n', out);

	line(out, "(0) reference floor: raw Unix socket ping-pong between two processes, 64 B each way, no gRPC; us");
	line(out, "  %-9s %8s %8s %8s %8s", "placement", "p50", "p90", "p99", "mean");
	for (const auto& [label, l] : {std::pair{"same-cpu", r.raw_uds.same_cpu},
	                               std::pair{"split-cpu", r.raw_uds.split_cpu}})
		if (l.n > 0)
			line(out, "  %-9s %8.1f %8.1f %8.1f %8.1f", label, l.p50, l.p90, l.p99, l.mean);
	std::fputc('\n', out);

	if (!r.smc.empty()) {
		print_a(out, r);
		std::fputc('\n', out);
	}
	if (!r.alloc_latency.empty()) {
		print_b(out, r);
		std::fputc('\n', out);
	}
	if (!r.alloc_rate.empty()) {
		print_c(out, r);
		std::fputc('\n', out);
	}
	if (!r.delegations.empty()) {
		print_g(out, r.delegations);
		std::fputc('\n', out);
	}
	if (!r.start.created_ms.empty()) {
		print_d(out, r);
		std::fputc('\n', out);
	}
	if (!r.sessions.empty()) {
		print_e(out, r);
		std::fputc('\n', out);
	}
	if (!r.fastpath.empty()) {
		print_fastpath(out, r);
		std::fputc('\n', out);
	}
	if (r.rmi.measured) {
		print_rmi(out, r.rmi, r.counts.calls, r.counts.warmup, r.counts.block);
		std::fputc('\n', out);
	}
	line(out, "background (the machine may be shared): per section, CPU time of other processes and steal in %% of");
	line(out, "all CPUs' time; disk writes and flushes of the whole machine, the daemons' own included");
	line(out, "  %-7s %8s %10s %7s %10s %8s", "section", "seconds", "others %", "steal %", "disk MiB", "flushes");
	for (const auto& l : r.load)
		line(out, "  %-7s %8.1f %10.1f %7.1f %10.1f %8llu", l.section.c_str(), l.seconds, l.load.others_pct,
		     l.load.steal_pct, l.load.disk_write_mib, static_cast<unsigned long long>(l.load.disk_flushes));

	if (!r.notes.empty()) {
		std::fputc('\n', out);
		line(out, "notes:");
		for (const auto& n : r.notes)
			line(out, "  - %s", n.c_str());
	}
}

nlohmann::json to_json(const Results& r)
{
	const Machine& m = r.machine;
	nlohmann::json j;
	j["machine"] = {{"cpus", m.cpus},
	                {"cpu_model", m.cpu_model},
	                {"kernel", m.kernel},
	                {"tmp_filesystem", m.tmp_fs},
	                {"grpc", m.grpc_version},
	                {"protobuf", m.protobuf_version},
	                {"el3d", m.el3d_path},
	                {"el3d_version", m.el3d_version},
	                {"echo_server", m.echo_path}};
	j["counts"] = {{"calls", r.counts.calls},   {"warmup", r.counts.warmup},   {"block", r.counts.block},
	               {"allocs", r.counts.allocs}, {"starts", r.counts.starts}, {"clients", r.counts.clients},
	               {"quick", r.counts.quick}};
	j["raw_uds_ping_pong"] = {{"same_cpu", latency_json(r.raw_uds.same_cpu)},
	                          {"split_cpu", latency_json(r.raw_uds.split_cpu)}};
	auto& smc = j["smc_unknown_fid"] = nlohmann::json::array();
	for (const auto& row : r.smc)
		smc.push_back({{"placement", name(row.placement)},
		               {"server", name(row.server)},
		               {"fid", row.fid},
		               {"el3d_logs_warning", row.server == Server::El3d && row.fid == kWarnedUnknownFid},
		               {"latency", latency_json(row.run.latency)},
		               {"calls_per_s", row.run.calls_per_s},
		               {"client_cpu_us_per_call", row.run.client_cpu_us},
		               {"server_cpu_us_per_call", row.run.server_cpu_us}});
	for (Placement p : {Placement::SameCpu, Placement::Unpinned}) {
		j["p50_ratio_el3d_to_echo"][name(p)] = p50_ratio(r, p, kQuietUnknownFid);
		j["p50_ratio_el3d_warning_to_echo"][name(p)] = p50_ratio(r, p, kWarnedUnknownFid);
	}
	auto& lat = j["alloc_latency"] = nlohmann::json::array();
	for (const auto& a : r.alloc_latency)
		lat.push_back(alloc_json(a));
	auto& rate = j["alloc_throughput"] = nlohmann::json::array();
	for (const auto& t : r.alloc_rate)
		rate.push_back(alloc_json(t));
	j["delegations"] = delegations_json(r.delegations);
	const StartRun& s = r.start;
	j["start"] = {{"platform", s.platform},
	              {"image_size", s.image_size},
	              {"created_ms", s.created_ms},
	              {"reopened_ms", s.reopened_ms},
	              {"created_median_ms", median(s.created_ms)},
	              {"reopened_median_ms", median(s.reopened_ms)},
	              {"file_apparent_bytes", s.file.apparent},
	              {"file_allocated_bytes", s.file.allocated},
	              {"rss_created_bytes", s.rss_created},
	              {"rss_reopened_bytes", s.rss_reopened}};
	if (r.rmi.measured)
		j["world_switch"] = rmi_json(r.rmi);
	if (!r.fastpath.empty())
		j["fastpath"] = fastpath_json(r);
	auto& sessions = j["sessions"] = nlohmann::json::array();
	for (const auto& row : r.sessions)
		sessions.push_back({{"placement", name(row.placement)},
		                    {"client", name(row.peer)},
		                    {"cpus", row.run.cpus},
		                    {"latency", latency_json(row.run.latency)},
		                    {"calls_per_s", row.run.calls_per_s},
		                    {"client_cpu_us_per_call", row.run.client_cpu_us},
		                    {"server_cpu_us_per_call", row.run.server_cpu_us}});
	for (Placement p : {Placement::SameCpu, Placement::Unpinned})
		for (unsigned cpus : {1u, 2u})
			j["p50_ratio_el3client_to_stream_echo"][name(p)][std::to_string(cpus)] = session_p50_ratio(r, p, cpus);
	j["p50_ratio_el3client_target"] = kSessionTarget;
	auto& load = j["background"] = nlohmann::json::array();
	for (const auto& l : r.load)
		load.push_back({{"section", l.section},
		                {"seconds", l.seconds},
		                {"other_processes_cpu_pct", l.load.others_pct},
		                {"steal_pct", l.load.steal_pct},
		                {"disk_write_mib", l.load.disk_write_mib},
		                {"disk_flushes", l.load.disk_flushes}});
	j["notes"] = r.notes;
	return j;
}

}  // namespace el3d::bench
