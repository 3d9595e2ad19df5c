#include "dispatch_model.hpp"

#include "el3d/smc.h"

namespace el3d::fuzz {

namespace {
constexpr uint32_t kFastCall = 1u << 31;
constexpr uint32_t kSveHint = 1u << 16;
constexpr uint32_t kMbz = 0x7Fu << 17;

bool rmm_el3(uint32_t f) { return f >= EL3_FID_RMM_EL3_BASE && f <= EL3_FID_RMM_EL3_LAST; }
bool firme(uint32_t f) { return f >= EL3_FID_FIRME_FIRST && f <= EL3_FID_FIRME_LAST; }

const GptRange* find(const std::vector<GptRange>& v, uint64_t pa)
{
	for (const auto& r : v)
		if (pa >= r.base && pa - r.base < r.size)
			return &r;
	return nullptr;
}
}  // namespace

Model::Model(const Geometry& g, Abi abi, uint64_t log_capacity)
    : g_(g),
      abi_(abi),
      log_capacity_(log_capacity),
      tracked_(gpt_layout(g)),
      device_(gpt_device_ranges(g)),
      fixed_(gpt_fixed_ranges(g)),
      top_(g.rmm_limit),
      cpus_(g.core_count)
{
}

// --- GPT ---------------------------------------------------------------------------------------

std::optional<Gpi> Model::initial(uint64_t pa) const
{
	for (const auto* v : {&tracked_, &device_, &fixed_})
		if (const GptRange* r = find(*v, pa))
			return r->initial;
	return std::nullopt;
}

Gpi Model::current(uint64_t pa) const
{
	const auto it = changed_.find(pa & ~(kGranule - 1));
	return it != changed_.end() ? it->second : *initial(pa);
}

Model::GptResult Model::set_gpi(uint64_t pa, Gpi to)
{
	if (pa % kGranule != 0)
		return GptResult::BadAddr;
	// The PA space is [0, 2^pa_bits), and its last granule cannot be transitioned.
	const uint64_t space = g_.pa_bits >= 64 ? ~uint64_t{0} : uint64_t{1} << g_.pa_bits;
	if (pa >= space - kGranule)
		return GptResult::BadAddr;
	const auto init = initial(pa);
	if (!init)
		return GptResult::BadAddr;
	const Gpi cur = current(pa);
	// The Realm world may move a granule between Non-secure and Realm, and nothing else.
	const bool ok = (cur == Gpi::NonSecure && to == Gpi::Realm) || (cur == Gpi::Realm && to == Gpi::NonSecure);
	if (!ok)
		return GptResult::BadPas;
	if (to == *init)
		changed_.erase(pa);
	else
		changed_[pa] = to;
	return GptResult::Ok;
}

std::array<uint64_t, 16> Model::gpt_counts() const
{
	std::array<uint64_t, 16> c{};
	for (const auto* v : {&tracked_, &device_, &fixed_})
		for (const auto& r : *v)
			c[static_cast<unsigned>(r.initial)] += r.size / kGranule;
	for (const auto& [pa, gpi] : changed_) {
		--c[static_cast<unsigned>(*initial(pa))];
		++c[static_cast<unsigned>(gpi)];
	}
	return c;
}

// --- allocator -----------------------------------------------------------------------------------

std::optional<uint64_t> Model::fresh(uint32_t cpu, uint64_t size, unsigned align, uint32_t id, uint16_t flags)
{
	// Top-down from the lowest allocation so far, aligned down, never below the payload limit, never wrapping.
	const uint64_t floor = g_.payload_limit;
	if (top_ < floor || size > top_ - floor)
		return std::nullopt;
	const uint64_t addr = (top_ - size) & ~((uint64_t{1} << align) - 1);
	if (addr < floor || regions_.size() >= log_capacity_)
		return std::nullopt;
	AllocRecord r;
	r.addr = addr;
	r.size = size;
	r.activation = activation_;
	r.id = id;
	r.cpu = cpu;
	r.flags = flags;
	r.align_bits = static_cast<uint8_t>(align);
	if (id != 0 && size != 0)  // a zero-sized request does not claim its tag
		tags_[id] = regions_.size();
	regions_.push_back(r);
	top_ = addr;
	return addr;
}

SmcExpect Model::allocate(uint32_t cpu, const SmcArgs& x, SmcResult out)
{
	const uint64_t size = x[0], x2 = x[1];
	const auto align = static_cast<unsigned>((x2 >> EL3_ALLOC_X2_ALIGN_SHIFT) & EL3_ALLOC_X2_ALIGN_MASK);
	const auto id = static_cast<uint32_t>(x2 & EL3_ALLOC_X2_ID_MASK);
	out[1] = x2;
	out[0] = static_cast<uint64_t>(EL3_E_RMM_INVAL);
	if (id >= g_.region_slots || align >= 64)
		return {true, true, out};
	out[0] = static_cast<uint64_t>(EL3_E_RMM_NOMEM);
	if (auto it = tags_.find(id); id != 0 && it != tags_.end()) {
		const AllocRecord& r = regions_[it->second];
		if (size > r.size)
			return {true, true, out};
		out[0] = static_cast<uint64_t>(EL3_E_RMM_OK);
		out[1] = r.addr;
		return {true, true, out};
	}
	const uint16_t flags = cpus_[cpu].state == CpuBootState::Booted ? kAllocAfterBootComplete : 0;
	if (auto addr = fresh(cpu, size, align, id, flags)) {
		out[0] = static_cast<uint64_t>(EL3_ALLOC_FRESH);
		out[1] = *addr;
	}
	return {true, true, out};
}

SmcExpect Model::reserve(uint32_t cpu, const SmcArgs& x, SmcResult out)
{
	const uint64_t size = x[0], x2 = x[1];
	const auto align = static_cast<unsigned>(x2 >> 56);
	out[1] = x2;
	out[0] = static_cast<uint64_t>(EL3_E_RMM_INVAL);
	if (align >= 64 || (x2 & ((uint64_t{1} << 56) - 2)) != 0)
		return {true, true, out};
	uint16_t flags = cpus_[cpu].state == CpuBootState::Booted ? kAllocAfterBootComplete : 0;
	if (x2 & 1)
		flags |= kAllocLocalCpu;
	out[0] = static_cast<uint64_t>(EL3_E_RMM_NOMEM);
	if (auto addr = fresh(cpu, size, align, 0, flags)) {
		out[0] = static_cast<uint64_t>(EL3_E_RMM_OK);
		out[1] = *addr;
	}
	return {true, true, out};
}

// --- dispatch --------------------------------------------------------------------------------------

bool Model::served(uint32_t f) const
{
	switch (f) {
	case EL3_FID_RMM_GTSI_DELEGATE:
	case EL3_FID_RMM_GTSI_UNDELEGATE:
	case EL3_FID_RMM_ATTEST_GET_REALM_KEY:
	case EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN:
	case EL3_FID_RMM_EL3_FEATURES:
	case EL3_FID_RMM_EL3_TOKEN_SIGN:  // the fuzz target keeps token signing on
	case EL3_FID_RMM_MEC_REFRESH:
	case EL3_FID_RMM_BOOT_COMPLETE:
		return true;
	case EL3_FID_RMM_ALLOCATE_MEMORY: return abi_ == Abi::Seed;
	case EL3_FID_RMM_RESERVE_MEMORY:
	case EL3_FID_SMCCC_VERSION:
	case EL3_FID_SMCCC_ARCH_FEATURES:
	case EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY:
		return abi_ != Abi::Seed;
	default: return firme(f) && abi_ != Abi::Seed;
	}
}

SmcExpect Model::smc(uint32_t cpu, uint64_t fid, const SmcArgs& x)
{
	if (cpu >= g_.core_count)
		return {false, false, {}};
	SmcResult out{};
	out[0] = EL3_SMC_UNK;
	for (unsigned i = 1; i < out.size(); ++i)
		out[i] = x[i - 1];  // what a command does not write keeps the caller's value
	auto f = static_cast<uint32_t>(fid);
	if ((f & kFastCall) != 0 && (f & kMbz) != 0)
		return {true, true, out};
	f &= ~kSveHint;
	ModelCpu& c = cpus_[cpu];
	if (c.state == CpuBootState::Off)
		c.state = CpuBootState::Booting;  // RMM code runs on it
	if ((failure_ && (rmm_el3(f) || firme(f))) || !served(f))
		return {true, true, out};
	switch (f) {
	case EL3_FID_RMM_ALLOCATE_MEMORY: return allocate(cpu, x, out);
	case EL3_FID_RMM_RESERVE_MEMORY: return reserve(cpu, x, out);
	case EL3_FID_RMM_GTSI_DELEGATE:
	case EL3_FID_RMM_GTSI_UNDELEGATE: {
		const auto r = set_gpi(x[0], f == EL3_FID_RMM_GTSI_DELEGATE ? Gpi::Realm : Gpi::NonSecure);
		out[0] = static_cast<uint64_t>(r == GptResult::Ok ? EL3_E_RMM_OK
		                               : r == GptResult::BadAddr ? EL3_E_RMM_BAD_ADDR
		                                                         : EL3_E_RMM_BAD_PAS);
		return {true, true, out};
	}
	case EL3_FID_FIRME_GM_GPI_SET: {
		const uint64_t target = x[2] & EL3_FIRME_GPI_SET_TARGET_MASK;
		out[1] = 0;
		if (x[1] != 1) {
			out[0] = static_cast<uint64_t>(EL3_FIRME_INVALID_PARAMETERS);
		} else if (target != 0x0 && target != 0x8 && target != 0x9 && target != 0xA && target != 0xB && target != 0xF) {
			out[0] = static_cast<uint64_t>(EL3_FIRME_DENIED);
		} else {
			const auto r = set_gpi(x[0], static_cast<Gpi>(target));
			out[0] = static_cast<uint64_t>(r == GptResult::Ok ? EL3_FIRME_SUCCESS
			                               : r == GptResult::BadAddr ? EL3_FIRME_INVALID_PARAMETERS
			                                                         : EL3_FIRME_DENIED);
			out[1] = r == GptResult::Ok ? 1 : 0;
		}
		return {true, true, out};
	}
	case EL3_FID_RMM_BOOT_COMPLETE: {
		const auto result = static_cast<int64_t>(x[0]);
		c.result = result;
		++c.completions;
		c.token = x[1];
		c.state = result == EL3_E_RMM_BOOT_SUCCESS ? CpuBootState::Booted : CpuBootState::Failed;
		if (result != EL3_E_RMM_BOOT_SUCCESS && !failure_)
			failure_ = BootFailure{cpu, result};
		out[0] = static_cast<uint64_t>(EL3_E_RMM_OK);
		return {true, true, out};
	}
	default: return {true, false, out};
	}
}

void Model::new_activation()
{
	++activation_;
	for (auto& c : cpus_) {
		c.state = CpuBootState::Off;
		c.entered = false;
	}
}

EntryExpect Model::enter(uint32_t cpu, EntryKind kind)
{
	EntryExpect e;
	if (cpu >= g_.core_count || failure_) {
		e.refused = true;
		return e;
	}
	bool any_entered = false, any_ran = false;
	for (const auto& c : cpus_) {
		any_entered |= c.entered;
		any_ran |= c.state != CpuBootState::Off;
	}
	if (kind == EntryKind::Auto)
		kind = !any_entered || cpus_[cpu].entered ? EntryKind::Cold : EntryKind::Warm;
	if (kind == EntryKind::Warm && !any_entered) {
		e.refused = true;
		return e;
	}
	const bool tokens = abi_ != Abi::Seed;
	ModelCpu& c = cpus_[cpu];
	e.entry.kind = kind;
	if (kind == EntryKind::Cold) {
		if (started_ || any_ran)
			new_activation();
		started_ = true;
		e.entry.regs = {cpu, interface_version(abi_), g_.core_count, g_.shared_base(), tokens ? c.token : 0, 0, 0, 0};
	} else {
		e.entry.regs = {cpu, tokens ? c.token : 0, 0, 0, 0, 0, 0, 0};
	}
	c.state = CpuBootState::Booting;
	++c.entries;
	c.entered = true;
	e.entry.activation = activation_;
	return e;
}

EntryExpect Model::attach(uint32_t cpu)
{
	EntryExpect e;
	if (cpu >= g_.core_count || cpus_[cpu].attached) {
		e.refused = true;
		e.conflict = cpu < g_.core_count;
		return e;
	}
	cpus_[cpu].attached = true;
	return e;
}

void Model::detach(uint32_t cpu)
{
	if (cpu >= g_.core_count || !cpus_[cpu].attached)
		return;
	cpus_[cpu].attached = false;
	for (const auto& c : cpus_)
		if (c.attached)
			return;
	for (auto& c : cpus_)  // the RMM instance is gone: the next entry is a cold boot
		c.entered = false;
}

void Model::reset()
{
	changed_.clear();
	regions_.clear();
	tags_.clear();
	top_ = g_.rmm_limit;
	for (auto& c : cpus_) {
		const bool attached = c.attached;  // sessions outlive a reset
		c = ModelCpu{};
		c.attached = attached;
	}
	activation_ = 1;
	started_ = false;
	failure_.reset();
}

void Model::reopen()
{
	for (auto& c : cpus_)
		c.attached = false;
}

}  // namespace el3d::fuzz
