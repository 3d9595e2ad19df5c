#include "delegations.hpp"

#include "el3d/el3_client.h"
#include "el3d/monitor/monitor.hpp"
#include "el3d/smc.h"
#include "measure.hpp"
#include "process.hpp"

#include <barrier>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <thread>

namespace el3d::bench {

namespace {

constexpr uint64_t kGranule = 0x1000;

// `cpus` threads, each running `phase(cpu, first, count, fid)` on its share of the granules, delegating all
// of them and then undelegating them, timed phase by phase over all threads (a barrier between phases).
void run_phases(DelegateRow& row, unsigned cpus, uint64_t granules,
                const std::function<void(unsigned, uint64_t, uint64_t, uint64_t)>& phase,
                const std::function<void(unsigned)>& setup = {})
{
	std::barrier sync(static_cast<std::ptrdiff_t>(cpus) + 1);
	std::vector<std::exception_ptr> errors(cpus);
	std::vector<std::thread> threads;
	for (unsigned k = 0; k < cpus; ++k)
		threads.emplace_back([&, k] {
			const uint64_t share = granules / cpus + (k < granules % cpus ? 1 : 0);
			const uint64_t first = k * (granules / cpus) + std::min<uint64_t>(k, granules % cpus);
			try {
				if (setup)
					setup(k);
			} catch (...) {
				errors[k] = std::current_exception();
			}
			for (uint64_t fid : {uint64_t{EL3_FID_RMM_GTSI_DELEGATE}, uint64_t{EL3_FID_RMM_GTSI_UNDELEGATE}}) {
				sync.arrive_and_wait();  // start together
				if (!errors[k]) {
					try {
						phase(k, first, share, fid);
					} catch (...) {
						errors[k] = std::current_exception();
					}
				}
				sync.arrive_and_wait();  // phase done
			}
		});
	for (double* out : {&row.delegate_s, &row.undelegate_s}) {
		sync.arrive_and_wait();
		const auto t0 = Clock::now();
		sync.arrive_and_wait();
		*out = std::chrono::duration<double>(Clock::now() - t0).count();
	}
	for (auto& t : threads)
		t.join();
	for (auto& e : errors)
		if (e)
			std::rethrow_exception(e);
}

void expect_ok(uint64_t x0, uint64_t fid, uint64_t pa)
{
	if (x0 != 0)
		throw std::runtime_error(std::string(fid == EL3_FID_RMM_GTSI_DELEGATE ? "delegate " : "undelegate ") +
		                         std::to_string(pa) + " answered x0 = " + std::to_string(static_cast<int64_t>(x0)));
}

}  // namespace

std::string shim_channel(const std::string& socket)
{
	// el3client reaches a daemon over a gRPC Session stream per entered CPU, whose SMCs move to the shared-memory
	// mailbox unless EL3D_FASTPATH turns that off (docs/client.md); el3d offers it on the same host.
	(void)socket;
	const char* fp = std::getenv("EL3D_FASTPATH");
	const bool off = fp != nullptr && (std::string(fp) == "0" || std::string(fp) == "off" || std::string(fp) == "no" ||
	                                   std::string(fp) == "false");
	return off ? "el3client, gRPC stream" : "el3client, shared-memory fast path";
}

DelegateRow shim_delegations(const std::string& socket, const std::string& durability, unsigned cpus, uint64_t granules)
{
	DelegateRow row{durability, shim_channel(socket), cpus, granules};
	el3_client* client = nullptr;
	el3_error err;
	if (el3_connect(("unix:" + socket).c_str(), &client, &err) != EL3_OK)
		throw std::runtime_error(std::string("el3_connect: ") + err.message);
	std::vector<el3_cpu*> handles(cpus, nullptr);
	try {
		run_phases(
		    row, cpus, granules,
		    [&](unsigned k, uint64_t first, uint64_t n, uint64_t fid) {
			    uint64_t args[EL3_SMC_ARGS] = {};
			    el3_regs out;
			    el3_error e;
			    for (uint64_t i = 0; i < n; ++i) {
				    args[0] = kDelegateBase + (first + i) * kGranule;
				    if (el3_smc(handles[k], fid, args, &out, &e) != EL3_OK)
					    throw std::runtime_error(std::string("el3_smc: ") + e.message);
				    expect_ok(out.x[0], fid, args[0]);
			    }
		    },
		    [&](unsigned k) {
			    el3_regs entry;
			    el3_error e;
			    if (el3_cpu_enter(client, k, EL3_ENTRY_AUTO, &handles[k], &entry, &e) != EL3_OK)
				    throw std::runtime_error("el3_cpu_enter(cpu " + std::to_string(k) + "): " + e.message);
		    });
	} catch (...) {
		el3_disconnect(client);
		throw;
	}
	el3_disconnect(client);
	const v1::State st = get_state(socket);
	row.state_changing_smcs = st.flushes().state_changing_smcs();
	row.smc_flushes = st.flushes().smc_flushes();
	row.grouped = st.flushes().grouped();
	return row;
}

DelegateRow core_delegations(const std::string& dir, Durability durability, unsigned cpus, uint64_t granules)
{
	DelegateRow row{durability_name(durability), "core in this process, no transport", cpus, granules};
	CarveoutOpenRequest req;
	req.path = dir + "/core-" + durability_name(durability) + "-" + std::to_string(cpus) + ".img";
	req.platform = "fvp";
	req.durability = durability;
	Monitor monitor(Carveout::open(req), MonitorOptions{});
	run_phases(row, cpus, granules, [&](unsigned k, uint64_t first, uint64_t n, uint64_t fid) {
		SmcArgs args{};
		SmcResult out{};
		for (uint64_t i = 0; i < n; ++i) {
			args[0] = kDelegateBase + (first + i) * kGranule;
			if (!monitor.call(k, fid, args, out))
				throw std::runtime_error("cpu " + std::to_string(k) + " is not a CPU of fvp");
			expect_ok(out[0], fid, args[0]);
		}
	});
	const FlushStats f = monitor.status().flushes;
	row.state_changing_smcs = f.batches;
	row.smc_flushes = f.batch_flushes;
	row.grouped = f.grouped;
	return row;
}

void print_g(std::FILE* out, const std::vector<DelegateRow>& rows)
{
	std::fprintf(out, "(g) RMM_GTSI_DELEGATE of 1 GiB of DRAM (262144 granules unless --granules), then\n"
	                  "    RMM_GTSI_UNDELEGATE of it, split evenly between the CPUs, each CPU its own thread;\n"
	                  "    flushes: the daemon's counters for these SMCs (power: at most one per SMC)\n");
	std::fprintf(out, "  %-10s %-36s %4s %9s %10s %10s %9s %9s %9s %9s\n", "durability", "path", "cpus", "granules",
	              "delegate s", "undeleg. s", "us/SMC", "SMCs", "flushes", "grouped");
	for (const DelegateRow& r : rows) {
		const double us = (r.delegate_s + r.undelegate_s) * 1e6 / static_cast<double>(2 * r.granules);
		std::fprintf(out, "  %-10s %-36s %4u %9llu %10.2f %10.2f %9.2f %9llu %9llu %9llu\n", r.durability.c_str(),
		             r.path.c_str(), r.cpus, static_cast<unsigned long long>(r.granules), r.delegate_s, r.undelegate_s,
		             us, static_cast<unsigned long long>(r.state_changing_smcs),
		             static_cast<unsigned long long>(r.smc_flushes), static_cast<unsigned long long>(r.grouped));
	}
	// The targets, judged on the rows through el3client (what an RMM pays), not the core alone.
	for (const DelegateRow& r : rows) {
		if (r.path.rfind("el3client", 0) != 0)
			continue;
		if (r.durability == "process" && r.granules == 262144)
			std::fprintf(out, "  target: 1 GiB delegated in under 2 s at process, %u CPU(s), %s: %s (%.2f s)\n", r.cpus,
			             r.path.c_str(), r.delegate_s < 2.0 ? "met" : "NOT met", r.delegate_s);
		if (r.durability == "power")
			std::fprintf(out, "  target: at most one flush per SMC at power, %u CPU(s): %s (%llu flushes for %llu SMCs)\n",
			             r.cpus, r.smc_flushes <= r.state_changing_smcs ? "met" : "NOT met",
			             static_cast<unsigned long long>(r.smc_flushes),
			             static_cast<unsigned long long>(r.state_changing_smcs));
	}
}

nlohmann::json delegations_json(const std::vector<DelegateRow>& rows)
{
	auto j = nlohmann::json::array();
	for (const DelegateRow& r : rows)
		j.push_back({{"durability", r.durability},
		             {"path", r.path},
		             {"cpus", r.cpus},
		             {"granules", r.granules},
		             {"delegate_s", r.delegate_s},
		             {"undelegate_s", r.undelegate_s},
		             {"state_changing_smcs", r.state_changing_smcs},
		             {"smc_flushes", r.smc_flushes},
		             {"grouped", r.grouped}});
	return j;
}

}  // namespace el3d::bench
