// fuzz_dispatch: sequences of SMCs, boot entries, session attach/detach, memory access, resets and reopens
// (daemon restarts) through el3d::Monitor, under each ABI profile and platform, each answer checked against
// dispatch_model's. The first two bytes choose the profile and the platform; then each operation is a byte and its
// arguments (dispatch_pick.hpp). One Monitor per (profile, platform) stays open across inputs on a Durability::Process
// carveout file in tmpfs; each input ends with Monitor::reset() (and the checks that it cleared everything), so that
// each input starts from a reset Monitor.
#include "dispatch_model.hpp"
#include "dispatch_pick.hpp"
#include "dispatch_shadow.hpp"
#include "fuzz_common.hpp"

#include "el3d/monitor/monitor.hpp"
#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace el3d;
using namespace el3d::fuzz;

namespace {

constexpr Abi kAbis[] = {Abi::Seed, Abi::Tfa, Abi::TfaV1Compat};
constexpr const char* kPlatforms[] = {"fvp", "qemu", "qemu-sbsa"};
constexpr uint64_t kLogCapacity = 16;  // small: open and reopen stay cheap, and a full log is reachable in kMaxOps
// Short inputs (docs/fuzzing.md): every input starts from a reset Monitor, so no operation needs a long prefix,
// while each operation costs libFuzzer bookkeeping. run-fuzz.sh's -max_len=512 fits kMaxOps operations.
constexpr unsigned kMaxOps = 32;
constexpr unsigned kMaxReopens = 1;  // a reopen is a daemon restart (map the file, scan its GPT, load keys): one per input
constexpr uint64_t kSentinel = 0x5A5A5A5A5A5A5A5Aull;

struct Slot {
	std::string path;
	Abi abi = Abi::Seed;
	const char* platform = "";
	std::unique_ptr<Monitor> monitor;
	std::optional<Model> fresh;  // the model of a reset Monitor, copied by every input (cheaper than built)
};
Slot g_slots[std::size(kAbis) * std::size(kPlatforms)];
Shadow g_shadow;  // its arrays are as large as an image: kept for every input
MonitorStatus g_status;  // status() into storage every check reuses

std::unique_ptr<Monitor> open_monitor(const Slot& s, bool create)
{
	CarveoutOpenRequest req;
	req.path = s.path;
	req.platform = s.platform;
	req.reset = create;
	req.log_capacity = kLogCapacity;
	req.durability = Durability::Process;
	req.overrides.payload_default = payload_default(s.abi);
	// A carveout of 4 MiB with 2 MiB to allocate (the platforms' own are 40 MiB to 1 GiB): every check
	// is the same, and a fresh allocation zeroes and reserves what it takes in tmpfs (memory pages),
	// which is what bounds the speed of an input that allocates the whole carveout.
	req.overrides.rmm_size = 0x400000;
	req.overrides.payload_size = 0x200000;
	MonitorOptions o;
	o.abi = s.abi;
	o.sign_delay = std::chrono::milliseconds(0);
	return std::make_unique<Monitor>(Carveout::open(req), o);
}

std::string regs_str(const SmcResult& r)
{
	std::string s;
	for (unsigned i = 0; i < r.size(); ++i)
		s += " x" + std::to_string(i) + "=" + hex(r[i]);
	return s;
}

class Run {
public:
	Run(Slot& s, Input& in) : slot_(s), in_(in), model_(*s.fresh)
	{
		// Bytes written below the shared page, as they must read (SMCs write the shared page: not tracked).
		shadow_.cover(geo().rmm_base, geo().shared_base() - geo().rmm_base);
	}

	void run()
	{
		for (op_ = 0; op_ < kMaxOps && !in_.empty(); ++op_) {
			switch (in_.pick(16)) {
			case 0: case 1: case 2: alloc(); break;
			case 3: case 4: gtsi(in_.flag()); break;
			case 5: gpi_set(); break;
			case 6: smc(pick_fid(in_), any_args()); break;
			case 7: boot_complete(); break;
			case 8: case 9: enter(); break;
			case 10: attach(); break;
			case 11: detach(pick_cpu(in_, model_)); break;
			case 12: read(); break;
			case 13: write(); break;
			case 14: reset(); break;
			default:
				// A reopen costs as much as many operations: only when a second byte asks for it.
				if (in_.pick(4) == 0)
					reopen();
				else
					smc(pick_fid(in_), any_args());
				break;
			}
		}
		check_status("at the end of the input");
		for (uint32_t c = 0; c < model_.cpus().size(); ++c)
			if (model_.cpus()[c].attached) {
				mon().detach(c);
				model_.detach(c);
			}
		// The reset the next input starts from, done here rather than at the next input's start: the same operations
		// in the same order, but a failure it finds reproduces with this input alone, and what this input allocated
		// is freed within it (libFuzzer runs an input that ends with more allocations than it started with a second
		// time, with a leak check: the state documents of a Monitor that grew used to make that most inputs).
		mon().reset();
		model_.reset();
		check_status("after the reset that ends the input");
		check_written(true, [&](uint64_t pa) {
			fail_op("after the reset that ends the input, the byte written at " + hex(pa) + " does not read zero");
		});
	}

private:
	Monitor& mon() { return *slot_.monitor; }
	const Geometry& geo() const { return model_.geometry(); }
	[[noreturn]] void fail_op(const std::string& what)
	{
		fail(std::string(abi_name(slot_.abi)) + "/" + slot_.platform + ", operation " + std::to_string(op_) + ": " + what);
	}

	SmcArgs any_args()
	{
		SmcArgs x{};
		x[0] = in_.flag() ? pick_pa(in_, model_) : pick_size(in_, model_);
		x[1] = in_.flag() ? pick_size(in_, model_) : in_.u64();
		x[2] = in_.flag() ? in_.u8() : in_.u64();
		for (unsigned i = 3; i < x.size(); ++i)
			x[i] = in_.pick(4) == 0 ? in_.u64() : i;
		return x;
	}

	void smc(uint64_t fid, const SmcArgs& x, uint32_t cpu = UINT32_MAX)
	{
		if (cpu == UINT32_MAX)
			cpu = pick_cpu(in_, model_);
		SmcResult out;
		out.fill(kSentinel);
		const std::size_t before = model_.regions().size();
		const uint64_t top = model_.top();
		const bool accepted = mon().call(cpu, fid, x, out);
		const SmcExpect e = model_.smc(cpu, fid, x);
		// Described only when something is wrong: building the text for every call would cost more than the call.
		auto call = [&] {
			return "cpu" + std::to_string(cpu) + " " + fid_name(fid) + "(" + hex(fid) + ", x1=" + hex(x[0]) +
			       ", x2=" + hex(x[1]) + ", x3=" + hex(x[2]) + ")";
		};
		if (accepted != e.accepted)
			fail_op(call() + ": call() returned " + (accepted ? "true" : "false"));
		if (!accepted) {
			for (uint64_t r : out)
				if (r != kSentinel)
					fail_op(call() + ": a refused call wrote the result registers");
			return;
		}
		if (e.full && out != e.regs)
			fail_op(call() + ":\n  got     " + regs_str(out) + "\n  model   " + regs_str(e.regs));
		if (model_.regions().size() != before)
			fresh_region(call(), model_.regions().back(), top);
	}

	// A new region: aligned, inside the allocatable range, below every earlier one, and reading as zero (its first
	// and last page, and every byte this input wrote there before).
	void fresh_region(const std::string& call, const AllocRecord& r, uint64_t old_top)
	{
		if (!((r.addr & ((uint64_t{1} << r.align_bits) - 1)) == 0))
			fail_op(call + ": region not aligned");
		if (!(r.addr >= geo().payload_limit && r.size <= old_top - r.addr))
			fail_op(call + ": region outside [payload limit, top of the previous region)");
		auto zero = [&](uint64_t at, uint64_t len) {
			if (!(mon().read_memory(at, len, buf_)))
				fail_op(call + ": cannot read the new region");
			const auto nz = std::find_if(buf_.begin(), buf_.end(), [](uint8_t b) { return b != 0; });
			if (nz != buf_.end())
				fail_op(call + ": new region reads non-zero at " + hex(at + static_cast<uint64_t>(nz - buf_.begin())));
		};
		const uint64_t head = std::min<uint64_t>(r.size, 0x1000);
		zero(r.addr, head);
		zero(r.addr + r.size - head, head);
		shadow_.each_run_in(r.addr, r.addr + r.size, [&](Shadow::Run w) { zero(w.lo, w.hi - w.lo); });
		shadow_.forget(r.addr, r.addr + r.size);
	}

	void alloc()
	{
		const bool seed = slot_.abi == Abi::Seed;
		const bool other = in_.pick(16) == 0;  // the other profile's FID: SMC_UNK here
		SmcArgs x{};
		x[0] = pick_size(in_, model_);
		x[1] = pick_alloc_x2(in_, seed != other);
		smc(seed != other ? EL3_FID_RMM_ALLOCATE_MEMORY : EL3_FID_RMM_RESERVE_MEMORY, x);
	}

	void gtsi(bool delegate)
	{
		SmcArgs x{};
		x[0] = pick_pa(in_, model_);
		smc(delegate ? EL3_FID_RMM_GTSI_DELEGATE : EL3_FID_RMM_GTSI_UNDELEGATE, x);
	}

	void gpi_set()
	{
		SmcArgs x{};
		x[0] = pick_pa(in_, model_);
		x[1] = in_.pick(8) == 0 ? in_.u64() : 1;
		const uint64_t gpis[] = {0xB, 0x9, 0xB, 0x9, 0x0, 0x8, 0xA, 0xF, 0xD, 0x4};
		x[2] = in_.pick(8) == 0 ? in_.u64() : in_.pick_from(gpis);
		smc(EL3_FID_FIRME_GM_GPI_SET, x);
	}

	void boot_complete()
	{
		SmcArgs x{};
		x[0] = in_.pick(4) == 0 ? static_cast<uint64_t>(-static_cast<int64_t>(in_.pick(9))) : 0;
		x[1] = in_.flag() ? in_.u64() : in_.u8();
		smc(EL3_FID_RMM_BOOT_COMPLETE, x);
	}

	void enter()
	{
		const uint32_t cpu = pick_cpu(in_, model_);
		const EntryKind kinds[] = {EntryKind::Auto, EntryKind::Cold, EntryKind::Warm};
		const EntryKind kind = in_.pick_from(kinds);
		const std::string what = "boot entry of cpu" + std::to_string(cpu) + " (kind " +
		                         std::to_string(static_cast<int>(kind)) + ")";
		const EntryExpect e = model_.enter(cpu, kind);
		try {
			const Entry got = mon().enter(cpu, kind);
			if (!(!e.refused))
				fail_op(what + ": accepted, the model refuses it");
			if (!(got.kind == e.entry.kind))
				fail_op(what + ": wrong kind");
			if (!(got.activation == e.entry.activation))
				fail_op(what + ": activation " + std::to_string(got.activation) +
			                                                 ", model " + std::to_string(e.entry.activation));
			if (got.regs != e.entry.regs)
				fail_op(what + ":\n  got   " + regs_str(got.regs) + "\n  model " + regs_str(e.entry.regs));
			if (!((got.kind == EntryKind::Cold) == (got.manifest_size != 0)))
				fail_op(what + ": manifest size");
		} catch (const EntryRefused& ex) {
			if (!(e.refused))
				fail_op(what + ": refused (" + ex.what() + "), the model accepts it");
		}
	}

	void attach()
	{
		const uint32_t cpu = pick_cpu(in_, model_);
		const EntryExpect e = model_.attach(cpu);
		const std::string what = "attach(cpu" + std::to_string(cpu) + ")";
		try {
			mon().attach(cpu);
			if (!(!e.refused))
				fail_op(what + ": accepted, the model refuses it");
		} catch (const SessionConflict&) {
			if (!(e.refused && e.conflict))
				fail_op(what + ": SessionConflict, the model says otherwise");
		} catch (const EntryRefused&) {
			if (!(e.refused && !e.conflict))
				fail_op(what + ": EntryRefused, the model says otherwise");
		}
	}

	void detach(uint32_t cpu)
	{
		mon().detach(cpu);
		model_.detach(cpu);
	}

	bool in_image(uint64_t pa, uint64_t len) const
	{
		return pa >= geo().rmm_base && pa <= geo().image_end() && len <= geo().image_end() - pa;
	}

	// Each byte the input wrote (and the shadow still holds) read back through read_memory, one read per run
	// written: zero if `zero`, else the value written; `mismatch(pa)` fails.
	template <class Fail>
	void check_written(bool zero, Fail mismatch)
	{
		for (const Shadow::Run& r : shadow_.runs()) {
			if (!mon().read_memory(r.lo, r.hi - r.lo, buf_))
				fail_op("cannot read " + hex(r.lo) + "+" + hex(r.hi - r.lo));
			for (uint64_t pa = r.lo; pa < r.hi; ++pa)
				if (shadow_.written(pa) && buf_[pa - r.lo] != (zero ? 0 : shadow_.value(pa)))
					mismatch(pa);
		}
	}

	void read()
	{
		const uint64_t pa = pick_pa(in_, model_);
		const uint64_t lens[] = {0, 1, 8, 64, 0x1000, 0x1001, ~uint64_t{0}};
		const uint64_t len = in_.flag() ? in_.pick_from(lens) : in_.u16();
		std::vector<uint8_t>& out = buf_;
		const bool ok = mon().read_memory(pa, len, out);
		if (!(ok == in_image(pa, len)))
			fail_op("read_memory(" + hex(pa) + ", " + hex(len) + ") returned " + (ok ? "true" : "false"));
		if (!ok)
			return;
		if (!(out.size() == len))
			fail_op("read_memory returned the wrong length");
		shadow_.each_run_in(pa, pa + len, [&](Shadow::Run w) {
			for (uint64_t a = w.lo; a < w.hi; ++a)
				if (shadow_.written(a) && out[a - pa] != shadow_.value(a))
					fail_op("read_memory: byte at " + hex(a) + " is not what was written");
		});
	}

	void write()
	{
		const uint64_t pa = pick_pa(in_, model_);
		std::vector<uint8_t> data = in_.bytes(64);
		if (in_.pick(16) == 0)
			data.resize(0x1001, 0xEE);  // across a page boundary
		const bool ok = mon().write_memory(pa, data.data(), data.size());
		if (!(ok == in_image(pa, data.size())))
			fail_op("write_memory(" + hex(pa) + ", " + std::to_string(data.size()) + " bytes) returned " + (ok ? "true" : "false"));
		if (!ok)
			return;
		shadow_.write(pa, data.data(), data.size());
	}

	void reset()
	{
		mon().reset();
		model_.reset();
		check_status("after reset");
		check_written(true, [&](uint64_t pa) {
			fail_op("after reset, the byte written at " + hex(pa) + " does not read zero");
		});
		std::vector<uint8_t>& page = buf_;
		if (!(mon().read_memory(geo().shared_base(), geo().shared_size, page)))
			fail_op("cannot read the shared page");
		for (std::size_t i = 0; i < page.size(); ++i)
			if (!(page[i] == 0))
				fail_op("after reset, the shared page is not zero at +" + hex(i));
		shadow_.clear();
	}

	void reopen()
	{
		if (++reopens_ > kMaxReopens)
			return;
		slot_.monitor.reset();  // as a daemon that exits: sessions end, the file stays
		slot_.monitor = open_monitor(slot_, false);
		model_.reopen();
		check_status("after reopening the carveout file");
		check_written(false, [&](uint64_t pa) {
			fail_op("after reopening, the byte written at " + hex(pa) + " changed");
		});
	}

	void check_status(const std::string& when)
	{
		MonitorStatus& s = g_status;
		mon().status(s);
		const auto& want = model_.regions();
		if (!(s.top == model_.top()))
			fail_op(when + ": top " + hex(s.top) + ", model " + hex(model_.top()));
		if (!(s.regions.size() == want.size()))
			fail_op(when + ": " + std::to_string(s.regions.size()) + " regions, model " +
		                                            std::to_string(want.size()));
		for (std::size_t i = 0; i < want.size(); ++i) {
			const AllocRecord &a = s.regions[i], &b = want[i];
			if (!(a.addr == b.addr && a.size == b.size && a.id == b.id && a.cpu == b.cpu && a.flags == b.flags &&
			           a.align_bits == b.align_bits && a.activation == b.activation))
				fail_op(when + ": region " + std::to_string(i) + " differs from the model's");
		}
		const auto counts = model_.gpt_counts();
		for (unsigned g = 0; g < counts.size(); ++g)
			if (!(s.gpt_granules[g] == counts[g]))
				fail_op(when + ": " + std::to_string(s.gpt_granules[g]) + " granules of GPI " +
			                                           hex(g) + ", model " + std::to_string(counts[g]));
		if (!(s.boot_failure.has_value() == model_.failed()))
			fail_op(when + ": boot failure differs");
		if (!(s.activation == model_.activation()))
			fail_op(when + ": activation " + std::to_string(s.activation) +
		                                                ", model " + std::to_string(model_.activation()));
		std::size_t n = 0;
		for (uint32_t c = 0; c < model_.cpus().size(); ++c) {
			const ModelCpu& m = model_.cpus()[c];
			if (m.state == CpuBootState::Off && m.completions == 0 && m.entries == 0 && m.token == 0)
				continue;
			if (!(n < s.cpus.size() && s.cpus[n].cpu == c))
				fail_op(when + ": cpu" + std::to_string(c) + " missing");
			const CpuStatus& got = s.cpus[n++];
			if (!(got.state == m.state && got.completions == m.completions && got.token == m.token &&
			           got.entries == m.entries && got.session == m.attached &&
			           (m.completions == 0 || got.boot_result == m.result)))
				fail_op(when + ": cpu" + std::to_string(c) + " differs from the model's");
		}
		if (!(n == s.cpus.size()))
			fail_op(when + ": more CPUs than the model has");
	}

	Slot& slot_;
	Input& in_;
	Model model_;
	Shadow& shadow_ = g_shadow;
	unsigned op_ = 0;
	unsigned reopens_ = 0;
	std::vector<uint8_t> buf_;  // what read_memory returns, reused (read_memory resizes it)
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
	quiet_logs();
	for (std::size_t a = 0; a < std::size(kAbis); ++a)
		for (std::size_t p = 0; p < std::size(kPlatforms); ++p) {
			Slot& s = g_slots[a * std::size(kPlatforms) + p];
			s.abi = kAbis[a];
			s.platform = kPlatforms[p];
			s.path = scratch_dir() + "/" + abi_name(s.abi) + "-" + s.platform + ".carveout";
		}
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	Input in(data, size);
	const std::size_t abi = in.pick(std::size(kAbis));
	Slot& s = g_slots[abi * std::size(kPlatforms) + in.pick(std::size(kPlatforms))];
	if (!s.monitor) {
		s.monitor = open_monitor(s, true);
		s.monitor->reset();  // as every other input finds it
		s.fresh.emplace(s.monitor->geometry(), s.abi, kLogCapacity);
	}
	Run run(s, in);
	run.run();
	return 0;
}
