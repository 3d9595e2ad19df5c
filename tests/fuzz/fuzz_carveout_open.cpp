// fuzz_carveout_open: Carveout::open of damaged carveout files. A small valid file is made once (regions, tags,
// delegated granules, a boot, written memory: every area holds something) as the template; each input is a list of
// byte patches aimed at its areas (superblock, the two state copies, log records, GPT map, image, the file's size),
// optionally with the damaged structures' CRCs made valid again so that the checks behind them are reached. Every
// outcome must be a CarveoutError refusal or an accepted open, and the file must be byte-identical afterwards either
// way: opening an existing file never writes. An accepted file may then be given to a Monitor, which must accept it
// or refuse it with a CarveoutError, leaving a refused file untouched too.
#include "fuzz_common.hpp"
#include "format.hpp"  // src/carveout/src: the file's structures

#include "el3d/carveout/carveout.hpp"
#include "el3d/manifest/boot_config.hpp"
#include "el3d/monitor/monitor.hpp"
#include "el3d/smc.h"
#include "el3d/util/crc.hpp"
#include "el3d/util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

using namespace el3d;
using namespace el3d::fuzz;

namespace {

struct Extent {
	uint64_t offset;
	std::vector<uint8_t> bytes;
};

struct Template {
	uint64_t size = 0;
	std::vector<Extent> data;  // the file's non-hole parts
	format::Superblock sb{};
};
Template g_tmpl;
std::string g_path;

CarveoutOpenRequest request(const std::string& path)
{
	CarveoutOpenRequest r;
	r.path = path;
	r.durability = Durability::Process;
	return r;
}

// The template: small geometry, a short log, and something in every area.
void make_template()
{
	const std::string path = scratch_dir() + "/template.carveout";
	CarveoutOpenRequest req = request(path);
	req.platform = "qemu";
	req.reset = true;
	req.log_capacity = 8;
	req.overrides.rmm_size = 0x100000;
	req.overrides.payload_size = 0x80000;
	req.overrides.core_count = 4;
	req.overrides.region_slots = 8;
	{
		MonitorOptions o;
		o.abi = Abi::Tfa;
		Monitor m(Carveout::open(req), o);
		m.enter(0, EntryKind::Cold);
		SmcResult out{};
		m.call(0, EL3_FID_RMM_RESERVE_MEMORY, {0x3000, uint64_t{12} << 56}, out);
		m.call(0, EL3_FID_RMM_RESERVE_MEMORY, {0x10, 1}, out);
		const uint8_t pattern[] = {0xDE, 0xAD, 0xBE, 0xEF};
		m.write_memory(out[1], pattern, sizeof pattern);
		for (uint64_t pa : {0x40000000ull, 0x40001000ull, 0x80000000ull, 0x4000F000ull})
			m.call(1, EL3_FID_RMM_GTSI_DELEGATE, {pa}, out);
		m.call(0, EL3_FID_RMM_GTSI_UNDELEGATE, {0x40000000}, out);
		m.call(0, EL3_FID_RMM_BOOT_COMPLETE, {0, 0xFE000000}, out);
		m.enter(1, EntryKind::Warm);
	}
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	check(fd >= 0, "cannot read the template back");
	struct stat st{};
	::fstat(fd, &st);
	g_tmpl.size = static_cast<uint64_t>(st.st_size);
	for (off_t at = ::lseek(fd, 0, SEEK_DATA); at >= 0; at = ::lseek(fd, at, SEEK_DATA)) {
		const off_t end = ::lseek(fd, at, SEEK_HOLE);
		Extent e{static_cast<uint64_t>(at), std::vector<uint8_t>(static_cast<std::size_t>(end - at))};
		check(::pread(fd, e.bytes.data(), e.bytes.size(), at) == static_cast<ssize_t>(e.bytes.size()), "short read");
		g_tmpl.data.push_back(std::move(e));
		at = end;
	}
	check(::pread(fd, &g_tmpl.sb, sizeof g_tmpl.sb, 0) == sizeof g_tmpl.sb, "cannot read the superblock");
	::close(fd);
}

// The file's content (not its layout of holes) and its modification time: a write of the same bytes counts too.
struct Digest {
	uint64_t size = 0, hash = 0;
	int64_t mtime_ns = 0;
	bool operator==(const Digest&) const = default;
};
Digest digest(const std::string& path)
{
	static uint8_t buf[1 << 16];
	static const uint8_t zero[4096] = {};
	Digest d;
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	check(fd >= 0, "the carveout file disappeared");
	struct stat st{};
	::fstat(fd, &st);
	d.size = static_cast<uint64_t>(st.st_size);
	d.mtime_ns = st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
	uint32_t h = 0;
	for (off_t at = ::lseek(fd, 0, SEEK_DATA); at >= 0; at = ::lseek(fd, at, SEEK_DATA)) {
		const off_t end = ::lseek(fd, at, SEEK_HOLE);
		while (at < end) {
			const auto n = static_cast<std::size_t>(std::min<off_t>(end - at, sizeof buf));
			check(::pread(fd, buf, n, at) == static_cast<ssize_t>(n), "short read");
			for (std::size_t p = 0; p < n; p += sizeof zero) {  // pages of zeros count as holes
				const std::size_t len = std::min(sizeof zero, n - p);
				if (std::memcmp(buf + p, zero, len) == 0)
					continue;
				const uint64_t where = static_cast<uint64_t>(at) + p;
				h = crc32(&where, sizeof where, h);
				h = crc32(buf + p, len, h);
			}
			at += static_cast<off_t>(n);
		}
	}
	::close(fd);
	d.hash = h;
	return d;
}

// Where a patch lands: an offset inside one of the file's areas (per the template's superblock).
uint64_t aim(Input& in)
{
	const format::Superblock& sb = g_tmpl.sb;
	const uint64_t copy = sb.state_copy_size;
	switch (in.pick(9)) {
	case 0: return in.u16() % sizeof(format::Superblock);                                   // superblock fields
	case 1: return sb.state_offset + in.pick(2) * copy + in.u8() % sizeof(format::StateHeader);  // a state header
	case 2: return sb.state_offset + in.pick(2) * copy + sizeof(format::StateHeader) + in.u16() % 0x800;  // CBOR
	case 3: return sb.log_offset + in.u16() % (sb.log_capacity * sizeof(format::LogRecord));  // log records
	case 4: return sb.gpt_offset + in.u32() % sb.gpt_size;                                  // GPT map
	case 5: return sb.image_offset + in.u32() % sb.image_size;                              // image
	case 6: return sb.file_size - 1 - in.u8();                                              // the end
	default: return in.u32() % g_tmpl.size;
	}
}

void pwrite_all(int fd, const void* p, std::size_t n, uint64_t off)
{
	check(::pwrite(fd, p, n, static_cast<off_t>(off)) == static_cast<ssize_t>(n), "cannot write the victim file");
}

// CRCs of the superblock, a state copy's header or every log record recomputed over the damaged bytes.
void fix_crcs(int fd, Input& in)
{
	const format::Superblock& t = g_tmpl.sb;
	if (in.flag()) {
		format::Superblock sb{};
		if (::pread(fd, &sb, sizeof sb, 0) == sizeof sb) {
			sb.crc = format::superblock_crc(sb);
			pwrite_all(fd, &sb, sizeof sb, 0);
		}
	}
	if (in.flag()) {
		const uint64_t at = t.state_offset + in.pick(2) * t.state_copy_size;
		format::StateHeader h{};
		if (::pread(fd, &h, sizeof h, static_cast<off_t>(at)) == sizeof h &&
		    h.payload_len <= t.state_copy_size - sizeof h) {
			std::vector<uint8_t> payload(h.payload_len);
			if (::pread(fd, payload.data(), payload.size(), static_cast<off_t>(at + sizeof h)) ==
			    static_cast<ssize_t>(payload.size())) {
				h.crc = 0;
				h.crc = crc32(payload.data(), payload.size(), crc32(&h, sizeof h));
				pwrite_all(fd, &h, sizeof h, at);
			}
		}
	}
	if (in.flag())
		for (uint64_t i = 0; i < t.log_capacity; ++i) {
			format::LogRecord r{};
			const uint64_t at = t.log_offset + i * sizeof r;
			if (::pread(fd, &r, sizeof r, static_cast<off_t>(at)) != sizeof r)
				break;
			r.crc = format::log_record_crc(r);
			pwrite_all(fd, &r, sizeof r, at);
		}
}

void make_victim(Input& in)
{
	const int fd = ::open(g_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd >= 0, "cannot create the victim file");
	check(::ftruncate(fd, static_cast<off_t>(g_tmpl.size)) == 0, "cannot size the victim file");
	for (const Extent& e : g_tmpl.data)
		pwrite_all(fd, e.bytes.data(), e.bytes.size(), e.offset);
	const format::Superblock& sb = g_tmpl.sb;
	const uint64_t values[] = {0, 1, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF, ~uint64_t{0}, uint64_t{1} << 63, sb.file_size,
	                           sb.file_size + 0x1000, sb.state_offset, sb.log_capacity + 1, sb.state_copy_size,
	                           format::kMaxLogCapacity + 1, sb.image_offset, sb.gpt_size - 1, 0x1000};
	for (unsigned n = in.pick(8) + 1; n > 0 && !in.empty(); --n) {
		const uint64_t at = aim(in);
		switch (in.pick(6)) {
		case 0: { const uint8_t b = in.u8(); pwrite_all(fd, &b, 1, at); break; }
		case 1: {
			uint8_t b = 0;
			if (::pread(fd, &b, 1, static_cast<off_t>(at)) == 1) {
				b ^= static_cast<uint8_t>(1u << in.pick(8));
				pwrite_all(fd, &b, 1, at);
			}
			break;
		}
		case 2: { const uint32_t v = static_cast<uint32_t>(in.pick_from(values)); pwrite_all(fd, &v, 4, at); break; }
		case 3: { const uint64_t v = in.pick_from(values); pwrite_all(fd, &v, 8, at); break; }
		case 4: { const std::vector<uint8_t> b = in.bytes(64); pwrite_all(fd, b.data(), b.size(), at); break; }
		default:  // a truncated or extended file
			check(::ftruncate(fd, static_cast<off_t>(in.flag() ? at : g_tmpl.size + in.u16())) == 0, "ftruncate");
			break;
		}
	}
	fix_crcs(fd, in);
	::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
	quiet_logs();
	make_template();
	g_path = scratch_dir() + "/victim.carveout";
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	Input in(data, size);
	const unsigned mode = in.u8();
	make_victim(in);
	CarveoutOpenRequest req = request(g_path);
	if (mode & 1)
		req.platform = (mode & 2) ? "qemu" : "fvp";  // as the file says, or a mismatch
	const Digest before = digest(g_path);
	std::unique_ptr<Carveout> c;
	try {
		c = Carveout::open(req);
	} catch (const CarveoutError&) {
		// Refused; anything else escaping open() (an I/O error for a header whose areas lie outside the file,
		// as before format.cpp bounded them) ends the run as a crash.
	}
	if (c) {  // what an accepted file offers must be readable
		(void)c->log();
		(void)c->state().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
		const Geometry& g = c->geometry();
		check(c->in_image(g.rmm_base, g.image_size()), "the image of an accepted file is not its image");
		uint64_t sum = 0;
		for (uint64_t i = 0; i < c->gpt_map_size(); i += 512)
			sum += c->gpt_map()[i];
		(void)sum;
	}
	c.reset();
	check(digest(g_path) == before, "Carveout::open changed the file it opened");
	if ((mode & 4) == 0)
		return 0;
	// The monitor on top: its state-document checks refuse a damaged document without writing.
	try {
		MonitorOptions o;
		o.abi = (mode & 8) ? Abi::Seed : Abi::Tfa;
		Monitor m(Carveout::open(request(g_path)), o);
	} catch (const CarveoutError&) {
		check(digest(g_path) == before, "a Monitor that refused the carveout file changed it");
	} catch (const manifest::ConfigError&) {
	}
	return 0;
}
