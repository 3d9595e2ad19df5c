// The C interface of el3client (include/el3d/el3_client.h).
#include "connect.hpp"
#include "el3d/el3_client.h"
#include "el3d/util/numbers.hpp"
#include "el3d/util/paths.hpp"
#include "sessions.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using el3d::client::CarveoutMap;
using el3d::client::CpuEntry;
using el3d::client::Error;
using el3d::client::NsMemoryMap;
using el3d::client::Registry;
using el3d::client::bind;
using el3d::client::bound_id;
using el3d::client::close_session;
using el3d::client::ending;
using el3d::client::find;
using el3d::client::handle_of;
using el3d::client::id_of;
using el3d::client::ok;
using el3d::client::registry;
using el3d::client::set_error;
using el3d::client::take;

namespace {

constexpr const char* kEnding = "the process is ending after a failed boot";

// What differs between the carveout a session handshake reports and the one a client mapped.
std::string mapping_difference(const CarveoutMap& now, const CarveoutMap& mapped)
{
	if (now.id != mapped.id)
		return "it serves " + now.path + " (id " + now.id + "), this client mapped " + mapped.path + " (id " +
		       mapped.id + ")";
	return "the same file now maps [" + el3d::hex(now.base) + ", +" + el3d::hex(now.size) + ") from offset " +
	       el3d::hex(now.file_offset) + ", this client mapped [" + el3d::hex(mapped.base) + ", +" +
	       el3d::hex(mapped.size) + ") from offset " + el3d::hex(mapped.file_offset);
}

bool same_mapping(const CarveoutMap& a, const CarveoutMap& b)
{
	return a.id == b.id && a.base == b.base && a.size == b.size && a.file_offset == b.file_offset;
}

// Likewise for the NS memory file (the path may differ: it is as the daemon sees it).
std::string ns_difference(const NsMemoryMap& now, const NsMemoryMap& mapped)
{
	if (now.id != mapped.id)
		return "it serves the NS memory file " + now.path + " (id " + now.id + "), this client mapped " + mapped.path +
		       " (id " + mapped.id + ")";
	return "the NS memory file " + now.path + " now has " + std::to_string(now.windows.size()) +
	       " windows laid out differently from the " + std::to_string(mapped.windows.size()) + " this client mapped";
}

// How long the session handshake may take: $EL3D_ENTER_TIMEOUT_MS, else 10 s.
std::optional<std::chrono::milliseconds> enter_timeout(std::string& why)
{
	const char* v = std::getenv("EL3D_ENTER_TIMEOUT_MS");
	if (v == nullptr || *v == '\0')
		return std::chrono::milliseconds(10000);
	// Decimal digits only (parse_u64 would also take hex and size suffixes).
	const std::string_view s(v);
	const auto n = s.find_first_not_of("0123456789") == std::string_view::npos ? el3d::parse_u64(s) : std::nullopt;
	if (!n || *n == 0 || *n > 3600000) {
		why = std::string("EL3D_ENTER_TIMEOUT_MS='") + v + "' is not a number of milliseconds in 1..3600000";
		return std::nullopt;
	}
	return std::chrono::milliseconds(*n);
}

// Whether sessions may use the shared-memory fast path: $EL3D_FASTPATH, on unless 0/off/no/false.
std::optional<bool> fastpath_wanted(std::string& why)
{
	const char* v = std::getenv("EL3D_FASTPATH");
	if (v == nullptr || *v == '\0')
		return true;
	const std::string_view s(v);
	if (s == "1" || s == "on" || s == "yes" || s == "true")
		return true;
	if (s == "0" || s == "off" || s == "no" || s == "false")
		return false;
	why = std::string("EL3D_FASTPATH='") + v + "' is neither 1/on/yes/true nor 0/off/no/false";
	return std::nullopt;
}

std::string default_endpoint()
{
	if (const char* e = std::getenv("EL3D_ENDPOINT"); e != nullptr && *e != '\0')
		return e;
	return el3d::default_socket_path();
}

}  // namespace

extern "C" {

int el3_connect(const char* endpoint, el3_client** out, el3_error* err)
{
	std::string why;
	const auto fastpath = fastpath_wanted(why);
	if (!fastpath) {
		if (out != nullptr)
			*out = nullptr;
		return set_error(err, EL3_ERR_INVALID, why);
	}
	return el3d::client::connect(endpoint, *fastpath, out, err);
}

}  // extern "C"

int el3d::client::connect(const char* endpoint, bool fastpath, el3_client** out, el3_error* err)
{
	if (out == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_connect: out is NULL");
	*out = nullptr;
	const std::string ep = endpoint != nullptr && *endpoint != '\0' ? endpoint : default_endpoint();
	auto c = std::make_unique<el3_client>();
	try {
		if (ep.rfind("inproc:", 0) == 0)
			c->backend = el3d::client::connect_inproc(ep.substr(7));
		else if (ep.rfind("unix:", 0) == 0)
			c->backend = el3d::client::connect_daemon(ep.substr(5), fastpath);
		else if (!ep.empty() && ep[0] == '/')
			c->backend = el3d::client::connect_daemon(ep, fastpath);
		else
			return set_error(err, EL3_ERR_INVALID,
			                 "endpoint '" + ep + "' is neither unix:/path, /path nor inproc:/path/carveout.img");
		c->mem.map(c->backend->info().carveout, c->backend->info().ns);
	} catch (const Error& e) {
		return set_error(err, e.code, e.what());
	} catch (const std::exception& e) {
		return set_error(err, EL3_ERR_CONNECT, e.what());
	}
	*out = c.release();
	return ok(err);
}

extern "C" {

void el3_disconnect(el3_client* c)
{
	if (c == nullptr || ending())
		return;
	// Every CPU this client entered leaves: their handles end, bindings to them go stale.
	std::vector<std::shared_ptr<CpuEntry>> mine;
	{
		Registry& r = registry();
		std::lock_guard l(r.mu);
		for (auto it = r.cpus.begin(); it != r.cpus.end();) {
			if (it->second->client == c) {
				mine.push_back(std::move(it->second));
				it = r.cpus.erase(it);
			} else {
				++it;
			}
		}
	}
	for (auto& e : mine) {
		if (bound_id() == e->id)
			bind(0, 0);
		close_session(*e);
	}
	delete c;  // unmaps
}

int el3_get_info(el3_client* c, struct el3_info* info, el3_error* err)
{
	if (c == nullptr || info == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_get_info: NULL argument");
	const auto& i = c->backend->info();
	std::memset(info, 0, sizeof(*info));
	std::snprintf(info->platform, sizeof(info->platform), "%s", i.platform.c_str());
	std::snprintf(info->abi, sizeof(info->abi), "%s", i.abi.c_str());
	std::snprintf(info->carveout_path, sizeof(info->carveout_path), "%s", c->mem.carveout().path.c_str());
	info->interface_version = i.interface_version;
	info->core_count = i.core_count;
	info->rmm_base = c->mem.carveout().base;
	info->carveout_size = c->mem.carveout().size;
	info->shared_base = i.shared_base;
	info->shared_size = i.shared_size;
	return ok(err);
}

int el3_cpu_enter(el3_client* c, unsigned cpu, enum el3_entry_kind kind, el3_cpu** out, el3_regs* entry,
                  el3_error* err)
{
	return el3_cpu_enter_flags(c, cpu, kind, 0, out, entry, err);
}

int el3_cpu_enter_flags(el3_client* c, unsigned cpu, enum el3_entry_kind kind, unsigned flags, el3_cpu** out,
                        el3_regs* entry, el3_error* err)
{
	if (c == nullptr || out == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_cpu_enter: NULL argument");
	*out = nullptr;
	if (ending())
		return set_error(err, EL3_ERR_SESSION, kEnding);
	if (cpu >= c->backend->info().core_count)
		return set_error(err, EL3_ERR_INVALID, "cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
		                                           std::to_string(c->backend->info().core_count) + " cores)");
	if (kind != EL3_ENTRY_AUTO && kind != EL3_ENTRY_COLD && kind != EL3_ENTRY_WARM)
		return set_error(err, EL3_ERR_INVALID, "el3_cpu_enter: kind " + std::to_string(static_cast<int>(kind)) +
		                                           " is not EL3_ENTRY_AUTO, _COLD or _WARM");
	if ((flags & ~EL3_ENTER_SERVE_RMI) != 0)
		return set_error(err, EL3_ERR_INVALID, "el3_cpu_enter_flags: unknown flags " + el3d::hex(flags));
	std::string why;
	const auto timeout = enter_timeout(why);
	if (!timeout)
		return set_error(err, EL3_ERR_INVALID, why);
	try {
		auto s = c->backend->enter(cpu, static_cast<int>(kind), (flags & EL3_ENTER_SERVE_RMI) != 0, *timeout);
		const bool same_carveout = same_mapping(s->carveout, c->mem.carveout());
		const bool same_ns = s->ns.id == c->mem.ns().id && s->ns.windows == c->mem.ns().windows;
		if (!same_carveout || !same_ns) {
			const std::string diff = !same_carveout ? mapping_difference(s->carveout, c->mem.carveout())
			                                        : ns_difference(s->ns, c->mem.ns());
			s.reset();  // release the CPU again
			return set_error(err, EL3_ERR_MAP,
			                 "cpu " + std::to_string(cpu) + ": el3d restarted on another " +
			                     (same_carveout ? "NS memory file" : "carveout") + " (" + diff +
			                     "): el3_disconnect() and el3_connect() again");
		}
		auto e = std::make_shared<CpuEntry>();
		e->client = c;
		e->cpu = cpu;
		e->kind = s->kind;
		e->activation = s->activation;
		if (entry != nullptr)
			for (unsigned i = 0; i < EL3_SMC_RESULTS; ++i)
				entry->x[i] = s->entry[i];
		e->session = std::move(s);
		{
			Registry& r = registry();
			std::lock_guard l(r.mu);
			e->id = r.next++;
			r.cpus.emplace(e->id, e);
		}
		bind(e->id, cpu);
		*out = handle_of(e->id);
	} catch (const Error& e) {
		return set_error(err, e.code, e.what());
	} catch (const std::exception& e) {
		return set_error(err, EL3_ERR_SESSION, e.what());
	}
	return ok(err);
}

int el3_smc(el3_cpu* cpu, uint64_t fid, const uint64_t args[EL3_SMC_ARGS], el3_regs* out, el3_error* err)
{
	if (cpu == nullptr || out == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_smc: NULL argument");
	if (ending())
		return set_error(err, EL3_ERR_SESSION, kEnding);
	static const uint64_t zeros[EL3_SMC_ARGS] = {};
	const auto e = find(cpu);
	if (!e)
		return set_error(err, EL3_ERR_INVALID, "SMC " + el3d::hex(fid) +
		                                           ": not a CPU session (it left, or its client disconnected)");
	try {
		std::lock_guard l(e->mu);
		if (!e->session)
			return set_error(err, EL3_ERR_SESSION, "SMC " + el3d::hex(fid) + " on cpu " + std::to_string(e->cpu) +
			                                           ": the session was closed while this call waited for it");
		e->session->smc(fid, args != nullptr ? args : zeros, out->x);
	} catch (const Error& x) {
		return set_error(err, x.code, x.what());
	} catch (const std::exception& x) {
		return set_error(err, EL3_ERR_SESSION, x.what());
	}
	return ok(err);
}

int el3_boot_complete(el3_cpu* cpu, int64_t result, uint64_t token, el3_regs* out, el3_error* err)
{
	const uint64_t args[EL3_SMC_ARGS] = {static_cast<uint64_t>(result), token};
	el3_regs r{};
	el3_error e{};
	const int rc = el3_smc(cpu, EL3_FID_RMM_BOOT_COMPLETE, args, &r, &e);
	if (result != 0) {  // EL3 takes any non-zero result as a failed boot
		std::fprintf(stderr,
		             "el3client: cpu %d reported a failed boot (RMM_BOOT_COMPLETE x1 = %lld)%s%s; the Realm world is "
		             "disabled, exiting\n",
		             static_cast<int>(el3_cpu_index(cpu)), static_cast<long long>(result),
		             rc == EL3_OK ? "" : " but el3d could not be told: ", rc == EL3_OK ? "" : e.message);
		std::fflush(stderr);
		el3d::client::end_process_after_failed_boot();
	}
	if (out != nullptr)
		*out = r;
	if (err != nullptr)
		*err = e;
	return rc;
}

unsigned el3_cpu_index(const el3_cpu* cpu)
{
	const auto e = find(cpu);
	return e ? e->cpu : ~0u;
}

enum el3_entry_kind el3_cpu_entry_kind(const el3_cpu* cpu)
{
	const auto e = find(cpu);
	if (!e)
		return EL3_ENTRY_AUTO;
	return e->kind == 2 ? EL3_ENTRY_WARM : EL3_ENTRY_COLD;
}

uint64_t el3_cpu_activation(const el3_cpu* cpu)
{
	const auto e = find(cpu);
	return e ? e->activation : 0;
}

void el3_cpu_leave(el3_cpu* cpu)
{
	if (cpu == nullptr || ending())
		return;
	const auto e = take(id_of(cpu));
	if (!e)
		return;
	if (bound_id() == e->id)
		bind(0, 0);
	close_session(*e);
}

void* el3_pa_to_va(el3_client* c, uint64_t pa) { return c != nullptr ? c->mem.pa_to_va(pa) : nullptr; }

uint64_t el3_va_to_pa(el3_client* c, const void* va) { return c != nullptr ? c->mem.va_to_pa(va) : 0; }

int el3_identity_mapped(el3_client* c) { return c != nullptr && c->mem.identity() ? 1 : 0; }

unsigned el3_ns_window_count(el3_client* c)
{
	return c != nullptr ? static_cast<unsigned>(c->mem.ns_windows().size()) : 0;
}

int el3_ns_window_get(el3_client* c, unsigned i, el3_ns_window* w, el3_error* err)
{
	if (c == nullptr || w == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_ns_window_get: NULL argument");
	const auto& windows = c->mem.ns_windows();
	if (i >= windows.size())
		return set_error(err, EL3_ERR_INVALID, "el3_ns_window_get: window " + std::to_string(i) + " of " +
		                                           std::to_string(windows.size()));
	*w = {windows[i].base, windows[i].size, windows[i].va};
	return ok(err);
}

int el3_map_alias(el3_client* c, uint64_t pa, size_t len, void* va, el3_error* err)
{
	if (c == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_map_alias: NULL client");
	try {
		c->mem.alias(pa, len, va);
	} catch (const Error& e) {
		return set_error(err, e.code, e.what());
	}
	return ok(err);
}

int el3_rmi(el3_client* c, unsigned cpu, uint64_t fid, const uint64_t args[EL3_SMC_ARGS], unsigned flags,
            unsigned timeout_ms, el3_regs* out, int* forwarded, el3_error* err)
{
	if (c == nullptr || out == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_rmi: NULL argument");
	if (ending())
		return set_error(err, EL3_ERR_SESSION, kEnding);
	if ((flags & ~EL3_RMI_FAIL_FAST) != 0)
		return set_error(err, EL3_ERR_INVALID, "el3_rmi: unknown flags " + el3d::hex(flags));
	if (cpu >= c->backend->info().core_count)
		return set_error(err, EL3_ERR_INVALID, "cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
		                                           std::to_string(c->backend->info().core_count) + " cores)");
	static const uint64_t zeros[EL3_SMC_ARGS] = {};
	try {
		const bool fwd = c->backend->rmi(cpu, fid, args != nullptr ? args : zeros, (flags & EL3_RMI_FAIL_FAST) != 0,
		                                 std::chrono::milliseconds(timeout_ms), out->x);
		if (forwarded != nullptr)
			*forwarded = fwd ? 1 : 0;
	} catch (const Error& e) {
		return set_error(err, e.code, e.what());
	} catch (const std::exception& e) {
		return set_error(err, EL3_ERR_SESSION, e.what());
	}
	return ok(err);
}

const char* el3_strerror(int code)
{
	switch (code) {
	case EL3_OK: return "success";
	case EL3_ERR_INVALID: return "invalid argument";
	case EL3_ERR_CONNECT: return "cannot reach el3d";
	case EL3_ERR_REFUSED: return "refused by el3d";
	case EL3_ERR_SESSION: return "session broken";
	case EL3_ERR_MAP: return "cannot map the carveout";
	case EL3_ERR_BUSY: return "no RMM available for the RMI";
	case EL3_ERR_TIMEOUT: return "the RMI timed out";
	case EL3_ERR_ABORTED: return "the RMM went away during the RMI";
	default: return "unknown error";
	}
}

}  // extern "C"
