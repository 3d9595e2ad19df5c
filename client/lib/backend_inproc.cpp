// el3client in process: the el3d core runs inside the caller, on a carveout file, with no daemon.
// Same semantics as the daemon: the same dispatch entry, the same file, the same lock (a daemon
// on the same file is refused while this process holds it).
#include "backend.hpp"

#include "el3_codes.hpp"
#include "el3d/monitor/monitor.hpp"
#include "el3d/nsmem/nsmem.hpp"
#include "el3d/util/numbers.hpp"
#include "el3d/worldswitch/ports.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <atomic>
#include <mutex>
#include <optional>

namespace el3d::client {

namespace {

void quiet_logging()
{
	// The core logs through spdlog's default logger; in a library, send it to stderr at "warn"
	// unless EL3D_LOG_LEVEL says otherwise.
	static std::once_flag once;
	std::call_once(once, [] {
		auto logger = spdlog::stderr_color_mt("el3client");
		spdlog::set_default_logger(logger);
		const char* lvl = std::getenv("EL3D_LOG_LEVEL");
		spdlog::set_level(spdlog::level::from_str(lvl ? lvl : "warn"));
	});
}

class InprocSession final : public CpuSession {
public:
	InprocSession(Monitor& m, ws::WorldSwitch& w, const NsMemoryMap& ns_memory, unsigned c, int k, bool serve_rmi)
	    : m_(m)
	{
		cpu = c;
		try {
			m.attach(c);
		} catch (const SessionConflict& e) {
			throw Error(EL3_ERR_REFUSED, e.what());
		} catch (const EntryRefused& e) {
			throw Error(EL3_ERR_INVALID, e.what());
		}
		try {
			const Entry e = m.enter(c, k == 1 ? EntryKind::Cold : k == 2 ? EntryKind::Warm : EntryKind::Auto);
			entry = e.regs;
			kind = e.kind == EntryKind::Warm ? 2 : 1;
			activation = e.activation;
		} catch (const std::exception& e) {
			m.detach(c);
			throw Error(EL3_ERR_REFUSED, e.what());
		}
		const Carveout& cv = m.carveout();
		carveout = {cv.path(), cv.uuid_string(), cv.image_offset(), cv.geometry().rmm_base, cv.geometry().image_size()};
		ns = ns_memory;
		if (serve_rmi)
			port_.emplace(m, w, c);
	}
	~InprocSession() override { end(); }
	void cancel() override { cancelled_ = true; }
	void smc(uint64_t fid, const uint64_t* a, uint64_t* out) override
	{
		SmcArgs x{};
		for (unsigned i = 0; i < x.size(); ++i)
			x[i] = a[i];
		SmcResult r{};
		if (killed_)
			throw Error(EL3_ERR_SESSION, "SMC " + hex(fid) + " on cpu " + std::to_string(cpu) + ": " + killed_why_);
		try {
			if (port_) {
				if (!port_->smc(fid, x, r, [this] { return cancelled_.load(); }))
					throw Error(EL3_ERR_SESSION, "SMC " + hex(fid) + " on cpu " + std::to_string(cpu) +
					                                 ": the session was closed while its RMM waited for an RMI");
			} else {
				m_.call(cpu, fid, x, r);
			}
		} catch (const Error&) {
			throw;
		} catch (const SessionKilled& e) {
			// A fault rule's kill: the session ends here, as the daemon ends its stream, and the CPU is free for a
			// new RMM at once.
			killed_ = true;
			killed_why_ = e.what();
			end();
			throw Error(EL3_ERR_SESSION, e.what());
		} catch (const std::exception& e) {
			throw Error(EL3_ERR_SESSION, "SMC " + hex(fid) + " on cpu " + std::to_string(cpu) + ": " + e.what());
		}
		for (unsigned i = 0; i < r.size(); ++i)
			out[i] = r[i];
	}

private:
	void end()
	{
		if (ended_)
			return;
		ended_ = true;
		port_.reset();  // the RMM leaves the world switch first: an RMI it held fails
		m_.detach(cpu);  // never throws: closing cannot end the caller
	}
	Monitor& m_;
	bool ended_ = false, killed_ = false;
	std::string killed_why_;
	std::optional<ws::RealmPort> port_;  // serve_rmi: this CPU's RMM end of the world switch
	std::atomic<bool> cancelled_{false};
};

class InprocBackend final : public Backend {
public:
	explicit InprocBackend(const std::string& spec)
	{
		quiet_logging();
		std::string path = spec, query;
		if (auto q = spec.find('?'); q != std::string::npos) {
			path = spec.substr(0, q);
			query = spec.substr(q + 1);
		}
		CarveoutOpenRequest req;
		req.path = path;
		NsMemoryOpenRequest ns_req;
		MonitorOptions opts;
		std::string faults_path;  // fault rules, as el3d --faults
		while (!query.empty()) {
			const auto amp = query.find('&');
			const std::string kv = query.substr(0, amp);
			query = amp == std::string::npos ? "" : query.substr(amp + 1);
			const auto eq = kv.find('=');
			const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
			if (k == "abi") {
				auto a = abi_from_name(v);
				if (!a)
					throw Error(EL3_ERR_INVALID, "unknown abi '" + v + "' in endpoint");
				opts.abi = *a;
			} else if (k == "platform") {
				req.platform = v;
			} else if (k == "ns-memory") {
				ns_req.path = v;
			} else if (k == "faults") {
				faults_path = v;
			} else {
				throw Error(EL3_ERR_INVALID, "unknown endpoint option '" + k + "' (abi, platform, ns-memory, faults)");
			}
		}
		if (path.empty())
			throw Error(EL3_ERR_INVALID, "inproc: needs a carveout file path");
		req.overrides.payload_default = payload_default(opts.abi);  // as the daemon does for a new file
		try {
			// The NS memory file is opened while the carveout is, as the daemon does.
			auto carveout = Carveout::open(req);
			ns_memory_ = NsMemory::open(*carveout, ns_req);
			monitor_ = std::make_unique<Monitor>(std::move(carveout), opts);
		} catch (const std::exception& e) {
			throw Error(EL3_ERR_CONNECT, e.what());
		}
		try {
			if (!faults_path.empty())
				for (faults::Rule& r : faults::load_rules(faults_path))
					monitor_->faults().add(std::move(r));
		} catch (const std::exception& e) {
			throw Error(EL3_ERR_INVALID, e.what());
		}
		const Carveout& c = monitor_->carveout();
		const Geometry& g = c.geometry();
		world_ = std::make_unique<ws::WorldSwitch>(g.core_count);
		info_.platform = g.platform;
		info_.abi = abi_name(opts.abi);
		info_.interface_version = interface_version(opts.abi);
		info_.core_count = g.core_count;
		info_.shared_base = g.shared_base();
		info_.shared_size = g.shared_size;
		info_.carveout = {c.path(), c.uuid_string(), c.image_offset(), g.rmm_base, g.image_size()};
		info_.ns = {ns_memory_->path(), ns_memory_->id_string(), {}};
		for (const NsWindow& w : ns_memory_->windows())
			info_.ns.windows.push_back({w.base, w.size, w.file_offset});
	}
	const Info& info() const override { return info_; }
	// In process there is nothing to wait for: `timeout` does not apply.
	std::unique_ptr<CpuSession> enter(unsigned cpu, int kind, bool serve_rmi, std::chrono::milliseconds) override
	{
		return std::make_unique<InprocSession>(*monitor_, *world_, info_.ns, cpu, kind, serve_rmi);
	}
	bool rmi(unsigned cpu, uint64_t fid, const uint64_t* a, bool fail_fast, std::chrono::milliseconds timeout,
	         uint64_t* out) override
	{
		if (cpu >= info_.core_count)
			throw Error(EL3_ERR_INVALID, "cpu " + std::to_string(cpu) + " is not a CPU of this platform");
		SmcArgs x{};
		for (unsigned i = 0; i < x.size(); ++i)
			x[i] = a[i];
		const auto until = std::chrono::steady_clock::now() + timeout;
		const ws::NsOutcome o = ws::ns_rmi(*monitor_, *world_, cpu, fid, x, fail_fast, [&] {
			return timeout.count() > 0 && std::chrono::steady_clock::now() >= until;
		});
		const std::string what = "RMI " + hex(fid) + " on cpu " + std::to_string(cpu);
		switch (o.error) {
		case ws::RmiError::None: break;
		case ws::RmiError::NoRmm: throw Error(EL3_ERR_BUSY, what + ": no RMM waits for RMIs on this CPU");
		case ws::RmiError::QueueFull: throw Error(EL3_ERR_BUSY, what + ": this CPU's queue is full");
		case ws::RmiError::RmmGone: throw Error(EL3_ERR_ABORTED, what + ": the RMM left while it held the RMI");
		case ws::RmiError::GaveUp: throw Error(EL3_ERR_TIMEOUT, what + ": no result within " + std::to_string(timeout.count()) + " ms");
		}
		for (unsigned i = 0; i < o.regs.size(); ++i)
			out[i] = o.regs[i];
		return o.forwarded;
	}

private:
	std::unique_ptr<Monitor> monitor_;
	std::unique_ptr<NsMemory> ns_memory_;  // closed before the monitor releases the carveout's lock
	std::unique_ptr<ws::WorldSwitch> world_;
	Info info_;
};

}  // namespace

std::unique_ptr<Backend> connect_inproc(const std::string& spec) { return std::make_unique<InprocBackend>(spec); }

}  // namespace el3d::client
