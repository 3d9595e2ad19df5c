// The C interface of el3client (include/el3d/el3_client.h).
#include "backend.hpp"
#include "el3d/el3_client.h"
#include "el3d/el3_tfrmm.h"
#include "el3d/util/numbers.hpp"
#include "el3d/util/paths.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

using el3d::client::Backend;
using el3d::client::CpuSession;
using el3d::client::Error;

struct el3_client {
	std::unique_ptr<Backend> backend;
	uint8_t* map = nullptr;  // the carveout image
	uint64_t base = 0, size = 0;
	bool identity = false;
};

struct el3_cpu {
	el3_client* client;
	std::unique_ptr<CpuSession> session;
};

namespace {

thread_local el3_cpu* t_bound = nullptr;

int set_error(el3_error* err, int code, const std::string& msg)
{
	if (err != nullptr) {
		err->code = code;
		std::snprintf(err->message, sizeof(err->message), "%s", msg.c_str());
	}
	return code;
}

int ok(el3_error* err)
{
	if (err != nullptr) {
		err->code = EL3_OK;
		err->message[0] = '\0';
	}
	return EL3_OK;
}

// Map the carveout image at VA == PA if that range is free in this process, else anywhere.
void map_carveout(el3_client& c)
{
	const auto& info = c.backend->info();
	const int fd = ::open(info.carveout_path.c_str(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		throw Error(EL3_ERR_MAP, "cannot open the carveout file " + info.carveout_path + ": " + std::strerror(errno) +
		                             " (it must be reachable at the path el3d uses, e.g. through a shared volume)");
	// The superblock's random id (bytes 16..31) tells whether this is the daemon's file.
	uint8_t id[16];
	if (::pread(fd, id, sizeof(id), 16) != static_cast<ssize_t>(sizeof(id)) ||
	    el3d::to_hex(id, sizeof(id)) != info.carveout_id) {
		::close(fd);
		throw Error(EL3_ERR_MAP, "the file at " + info.carveout_path + " is not the carveout el3d is serving (id " +
		                             info.carveout_id + ")");
	}
	c.base = info.rmm_base;
	c.size = info.carveout_size;
	void* want = reinterpret_cast<void*>(static_cast<uintptr_t>(c.base));
	void* p = ::mmap(want, c.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd,
	                 static_cast<off_t>(info.file_offset));
	if (p != MAP_FAILED && p != want) {  // kernels without MAP_FIXED_NOREPLACE treat it as a hint
		::munmap(p, c.size);
		p = MAP_FAILED;
		errno = EEXIST;
	}
	if (p == MAP_FAILED) {
		const int why = errno;
		p = ::mmap(nullptr, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(info.file_offset));
		if (p == MAP_FAILED) {
			const int e = errno;
			::close(fd);
			throw Error(EL3_ERR_MAP, std::string("cannot map the carveout file: ") + std::strerror(e));
		}
		std::fprintf(stderr,
		             "el3client: physical range [%s, +%s) cannot be mapped at the same virtual address in this "
		             "process (%s); using an offset mapping at %p: dereference physical addresses through "
		             "el3_pa_to_va()\n",
		             el3d::hex(c.base).c_str(), el3d::hex(c.size).c_str(), std::strerror(why), p);
		c.identity = false;
	} else {
		c.identity = true;
	}
	::close(fd);
	c.map = static_cast<uint8_t*>(p);
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
	if (out == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_connect: out is NULL");
	*out = nullptr;
	const std::string ep = endpoint != nullptr && *endpoint != '\0' ? endpoint : default_endpoint();
	auto c = std::make_unique<el3_client>();
	try {
		if (ep.rfind("inproc:", 0) == 0)
			c->backend = el3d::client::connect_inproc(ep.substr(7));
		else if (ep.rfind("unix:", 0) == 0)
			c->backend = el3d::client::connect_daemon(ep.substr(5));
		else if (!ep.empty() && ep[0] == '/')
			c->backend = el3d::client::connect_daemon(ep);
		else
			return set_error(err, EL3_ERR_INVALID,
			                 "endpoint '" + ep + "' is neither unix:/path, /path nor inproc:/path/carveout.img");
		map_carveout(*c);
	} catch (const Error& e) {
		return set_error(err, e.code, e.what());
	} catch (const std::exception& e) {
		return set_error(err, EL3_ERR_CONNECT, e.what());
	}
	*out = c.release();
	return ok(err);
}

void el3_disconnect(el3_client* c)
{
	if (c == nullptr)
		return;
	if (c->map != nullptr)
		::munmap(c->map, c->size);
	delete c;
}

int el3_get_info(el3_client* c, struct el3_info* info, el3_error* err)
{
	if (c == nullptr || info == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_get_info: NULL argument");
	const auto& i = c->backend->info();
	std::memset(info, 0, sizeof(*info));
	std::snprintf(info->platform, sizeof(info->platform), "%s", i.platform.c_str());
	std::snprintf(info->abi, sizeof(info->abi), "%s", i.abi.c_str());
	std::snprintf(info->carveout_path, sizeof(info->carveout_path), "%s", i.carveout_path.c_str());
	info->interface_version = i.interface_version;
	info->core_count = i.core_count;
	info->rmm_base = i.rmm_base;
	info->carveout_size = i.carveout_size;
	info->shared_base = i.shared_base;
	info->shared_size = i.shared_size;
	return ok(err);
}

int el3_cpu_enter(el3_client* c, unsigned cpu, enum el3_entry_kind kind, el3_cpu** out, el3_regs* entry,
                  el3_error* err)
{
	if (c == nullptr || out == nullptr)
		return set_error(err, EL3_ERR_INVALID, "el3_cpu_enter: NULL argument");
	*out = nullptr;
	if (cpu >= c->backend->info().core_count)
		return set_error(err, EL3_ERR_INVALID, "cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
		                                           std::to_string(c->backend->info().core_count) + " cores)");
	try {
		auto s = c->backend->enter(cpu, static_cast<int>(kind));
		auto* p = new el3_cpu{c, std::move(s)};
		if (entry != nullptr)
			for (unsigned i = 0; i < EL3_SMC_RESULTS; ++i)
				entry->x[i] = p->session->entry[i];
		t_bound = p;
		*out = p;
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
	static const uint64_t zeros[EL3_SMC_ARGS] = {};
	try {
		cpu->session->smc(fid, args != nullptr ? args : zeros, out->x);
	} catch (const Error& e) {
		return set_error(err, e.code, e.what());
	} catch (const std::exception& e) {
		return set_error(err, EL3_ERR_SESSION, e.what());
	}
	return ok(err);
}

int el3_boot_complete(el3_cpu* cpu, int64_t result, uint64_t token, el3_error* err)
{
	const uint64_t args[EL3_SMC_ARGS] = {static_cast<uint64_t>(result), token};
	el3_regs r;
	const int rc = el3_smc(cpu, EL3_FID_RMM_BOOT_COMPLETE, args, &r, err);
	if (result < 0) {
		std::fprintf(stderr,
		             "el3client: cpu %u reported a failed boot (RMM_BOOT_COMPLETE x1 = %lld)%s; the Realm world is "
		             "disabled, exiting\n",
		             cpu != nullptr ? cpu->session->cpu : 0u, static_cast<long long>(result),
		             rc == EL3_OK ? "" : " but el3d could not be told");
		std::fflush(stderr);
		std::exit(EXIT_FAILURE);
	}
	return rc;
}

unsigned el3_cpu_index(const el3_cpu* cpu) { return cpu != nullptr ? cpu->session->cpu : 0; }

void el3_cpu_leave(el3_cpu* cpu)
{
	if (cpu == nullptr)
		return;
	if (t_bound == cpu)
		t_bound = nullptr;
	delete cpu;
}

void* el3_pa_to_va(el3_client* c, uint64_t pa)
{
	if (c == nullptr || pa < c->base || pa - c->base >= c->size)
		return nullptr;
	return c->map + (pa - c->base);
}

uint64_t el3_va_to_pa(el3_client* c, const void* va)
{
	const auto* p = static_cast<const uint8_t*>(va);
	if (c == nullptr || p < c->map || p >= c->map + c->size)
		return 0;
	return c->base + static_cast<uint64_t>(p - c->map);
}

int el3_identity_mapped(el3_client* c) { return c != nullptr && c->identity ? 1 : 0; }

const char* el3_strerror(int code)
{
	switch (code) {
	case EL3_OK: return "success";
	case EL3_ERR_INVALID: return "invalid argument";
	case EL3_ERR_CONNECT: return "cannot reach el3d";
	case EL3_ERR_REFUSED: return "refused by el3d";
	case EL3_ERR_SESSION: return "session broken";
	case EL3_ERR_MAP: return "cannot map the carveout";
	default: return "unknown error";
	}
}

void el3_tfrmm_bind(el3_cpu* cpu) { t_bound = cpu; }
el3_cpu* el3_tfrmm_bound(void) { return t_bound; }

}  // extern "C"
