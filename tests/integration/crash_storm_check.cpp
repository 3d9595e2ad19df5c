// The crash storm's check after each restart (crash_storm.hpp).
#include "crash_storm.hpp"

#include "el3d/smc.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>


namespace el3d::test::storm {

namespace {

struct Checker {
	Rig& rig;
	v1::Monitor::Stub& stub;
	int round;
	Stats& st;
	std::vector<std::string>& failures;
	v1::State s;

	void fail(const std::string& m)
	{
		failures.push_back("[" + rig.profile + "] " + m);
	}

	Pending* pending_of(int kind, auto&& pred)
	{
		for (auto& p : rig.pending)
			if (p.kind == kind && pred(p))
				return &p;
		return nullptr;
	}

	void epoch_and_reset()
	{
		if (Pending* p = pending_of(Reset, [](const Pending&) { return true; })) {
			if (s.epoch() == rig.epoch + 1) {
				rig.model_reset(rig.kill_round, "the Reset in flight at the kill, found committed");
				++st.resets_committed_at_kill;
			} else {
				++st.resets_undone_at_kill;
			}
			*p = {};
		}
		if (s.epoch() != rig.epoch)
			fail("State says epoch " + std::to_string(s.epoch()) + ", the model " + std::to_string(rig.epoch));
	}

	void regions()
	{
		std::map<uint64_t, const v1::Region*> have;
		for (const auto& r : s.regions())
			if (!have.emplace(r.address(), &r).second)
				fail("two regions at " + hex(r.address()));
		for (const auto& [addr, m] : rig.regions) {
			++st.regions_checked;
			auto it = have.find(addr);
			if (it == have.end())
				fail("lost: acknowledged " + m.what() + " is not in State");
			else if (it->second->size() != m.size || it->second->id() != m.id)
				fail("acknowledged " + m.what() + " comes back with size " + hex(it->second->size()) + " id " +
				     std::to_string(it->second->id()));
		}
		for (const auto& [addr, r] : have) {
			if (rig.regions.count(addr))
				continue;
			Pending* p = pending_of(Alloc, [&](const Pending& q) {
				return q.size == r->size() && q.id == r->id() && &q - rig.pending.data() == static_cast<std::ptrdiff_t>(r->cpu());
			});
			if (p == nullptr) {
				fail("phantom region: id " + std::to_string(r->id()) + " at " + hex(addr) + " size " + hex(r->size()) +
				     " cpu " + std::to_string(r->cpu()) +
				     " was never acknowledged and no allocation of that size and id was in flight at the kill");
				continue;
			}
			rig.regions[addr] = RegionM{addr, r->size(), r->id(), r->cpu(), rig.epoch, round, std::string(r->size(), '\0')};
			*p = {};
		}
		uint64_t end = 0;
		for (const auto& [addr, r] : have) {
			if (addr < end)
				fail("region at " + hex(addr) + " overlaps the one below it (ending at " + hex(end) + ")");
			end = std::max(end, addr + r->size());
		}
		const uint64_t top = have.empty() ? rig.rmm_limit : have.begin()->first;
		if (s.top() != top)
			fail("top is " + hex(s.top()) + ", the lowest region says " + hex(top));
		for (const auto& [addr, r] : rig.regions)
			rig.low_water = std::min(rig.low_water, addr);
	}

	const RegionM* retired_at(uint64_t pa) const
	{
		for (const auto& r : rig.retired)
			if (pa >= r.addr && pa < r.addr + r.size)
				return &r;
		return nullptr;
	}

	void expect_zero(const std::string& img, uint64_t lo, uint64_t a, uint64_t b)
	{
		for (uint64_t pa = a; pa < b; ++pa) {
			if (img[pa - lo] == 0)
				continue;
			uint64_t n = 0, last = pa;
			for (uint64_t q = pa; q < b; ++q)
				if (img[q - lo] != 0)
					++n, last = q;
			std::string m = hex(n) + " non-zero bytes in [" + hex(pa) + ", " + hex(last + 1) +
			                ") outside every region of epoch " + std::to_string(rig.epoch) + " (first: " +
			                bytes_hex(&img[pa - lo], last + 1 - pa) + ")";
			if (const RegionM* r = retired_at(pa))
				m += ": the content of " + r->what() + ", which " + rig.reset_what + " should have zeroed";
			fail(m);
			return;
		}
	}

	void compare_region(RegionM& r, const char* got)
	{
		Pending* w = pending_of(Write, [&](const Pending& q) { return q.region == r.addr; });
		uint64_t a = r.size, b = r.size;  // the in-flight write's range, if any
		if (w != nullptr)
			a = w->offset, b = w->offset + w->data.size();
		for (uint64_t i = 0; i < r.size; ++i) {
			if (got[i] == r.content[i] || (i >= a && i < b && got[i] == w->data[i - a]))
				continue;
			uint64_t j = i, n = 0;
			for (uint64_t q = i; q < r.size; ++q)
				if (got[q] != r.content[q] && !(q >= a && q < b && got[q] == w->data[q - a]))
					++n, j = q;
			fail("content of " + r.what() + " corrupt: " + hex(n) + " bytes in [" + hex(r.addr + i) + ", " +
			     hex(r.addr + j + 1) + ") differ from the last acknowledged write" +
			     (w ? std::string(" and from the one in flight") : std::string()) + ": expected " +
			     bytes_hex(&r.content[i], j + 1 - i) + " got " + bytes_hex(got + i, j + 1 - i));
			return;
		}
		if (w != nullptr) {
			const std::string now(got + a, b - a);
			if (now != w->data && now != r.content.substr(a, b - a))
				++st.torn_writes;  // a kill in the middle of the copy: each byte old or new
			r.content.replace(a, b - a, now);
			*w = {};
		}
	}

	void contents()
	{
		const uint64_t lo = std::min(rig.low_water, s.top()), hi = rig.rmm_limit;
		if (lo >= hi)
			return;
		std::string img;
		for (uint64_t pa = lo; pa < hi;) {
			const uint64_t n = std::min<uint64_t>(hi - pa, 4 << 20);
			v1::ReadMemoryRequest req;
			req.set_address(pa);
			req.set_length(n);
			v1::ReadMemoryResponse resp;
			auto status = stub.ReadMemory(ctx().get(), req, &resp);
			if (!status.ok() || resp.data().size() != n)
				return fail("ReadMemory " + hex(pa) + " +" + hex(n) + " failed: " + status.error_message());
			img += resp.data();
			pa += n;
		}
		st.bytes_compared += hi - lo;
		uint64_t pos = lo;
		for (auto& [addr, r] : rig.regions) {
			if (addr < lo || addr + r.size > hi)
				continue;  // reported as lost or out of place already
			expect_zero(img, lo, pos, addr);
			compare_region(r, &img[addr - lo]);
			pos = std::max(pos, addr + r.size);
		}
		expect_zero(img, lo, pos, hi);
	}

	// A granule's PAS, found by a transition and its inverse (both acknowledged: the state is as before).
	std::optional<Pas> probe(const GranuleM& g)
	{
		const Pas first = g.now;
		for (Pas guess : {first, first == Pas::Ns ? Pas::Realm : Pas::Ns}) {
			const uint64_t there = guess == Pas::Ns ? EL3_FID_RMM_GTSI_DELEGATE : EL3_FID_RMM_GTSI_UNDELEGATE;
			const uint64_t back = guess == Pas::Ns ? EL3_FID_RMM_GTSI_UNDELEGATE : EL3_FID_RMM_GTSI_DELEGATE;
			const auto x0 = static_cast<int64_t>(smc(stub, there, g.pa, 0, g.owner).x0());
			if (x0 == EL3_E_RMM_BAD_PAS)
				continue;
			if (x0 != EL3_E_RMM_OK) {
				fail("probing " + g.what() + ": x0 = " + std::to_string(x0));
				return std::nullopt;
			}
			const auto y0 = static_cast<int64_t>(smc(stub, back, g.pa, 0, g.owner).x0());
			if (y0 != EL3_E_RMM_OK)
				fail("probing " + g.what() + ": the inverse transition answered " + std::to_string(y0));
			return guess;
		}
		fail(g.what() + " is neither Non-secure nor Realm: delegate and undelegate both answer E_RMM_BAD_PAS");
		return std::nullopt;
	}

	void gpt()
	{
		for (std::size_t i = 0; i < rig.granules.size(); ++i) {
			GranuleM& g = rig.granules[i];
			const auto pas = probe(g);
			++st.granules_probed;
			if (!pas)
				continue;
			Pending* p = pending_of(Delegate, [&](const Pending& q) { return q.granule == i; });
			if (p == nullptr)
				p = pending_of(Undelegate, [&](const Pending& q) { return q.granule == i; });
			if (p != nullptr) {
				if (*pas != g.now)
					g.last = std::string("the ") + kind_name(p->kind) + " in flight at the kill of round " +
					         std::to_string(rig.kill_round) + ", found done";
				g.now = *pas;
				*p = {};
			} else if (*pas != g.now) {
				fail(g.what() + " is " + pas_name(*pas) + ", expected " + pas_name(g.now) + ": " + g.last);
			}
		}
		uint64_t realm = 0;
		for (const auto& c : s.gpt())
			if (c.pas() == "realm")
				realm = c.granules();
		uint64_t want = rig.realm_baseline;
		for (const auto& g : rig.granules)
			want = want + (g.now == Pas::Realm) - (g.initial == Pas::Realm);
		if (realm == want)
			return;
		// Name them: probe every granule near the ones the clients use.
		std::string where;
		for (auto [base, n] : {std::pair<uint64_t, uint64_t>{0x80000000, 0x110}, {0x880000000, 8}, {0x50000000, 0x40}})
			for (uint64_t pa = base; pa < base + n * 0x1000; pa += 0x1000) {
				if (std::any_of(rig.granules.begin(), rig.granules.end(), [&](const GranuleM& g) { return g.pa == pa; }))
					continue;  // probed above
				const Pas expected =
				    rig.profile != "seed" && pa >= 0x80100000 && pa < 0x80110000 ? Pas::Realm : Pas::Ns;
				GranuleM g{pa, 0, expected, expected, ""};
				if (const auto pas = probe(g); pas && *pas != expected)
					where += " " + hex(pa) + " " + pas_name(*pas);
			}
		fail("State counts " + std::to_string(realm) + " Realm granules, the model " + std::to_string(want) +
		     (where.empty() ? std::string(" (no untracked granule near the clients' ones differs)")
		                   : "; untracked granules near the clients' ones not in their initial PAS:" + where));
	}

	void cpus()
	{
		std::map<uint32_t, const v1::Cpu*> have;
		for (const auto& c : s.cpus())
			have[c.cpu()] = &c;
		for (uint32_t t = 0; t < rig.threads; ++t) {
			++st.cpus_checked;
			CpuM& m = rig.cpus[t];
			auto it = have.find(t);
			const uint64_t token = it == have.end() ? 0 : it->second->token();
			const uint64_t n = it == have.end() ? 0 : it->second->completions();
			Pending& p = rig.pending[t];
			if (p.kind == BootComplete) {
				if (token == p.token && n == m.completions + 1) {
					m = CpuM{p.token, n, "the RMM_BOOT_COMPLETE in flight at the kill, found done"};
					p = {};
					continue;
				}
				p = {};
			}
			if (token != m.token || n != m.completions)
				fail("cpu " + std::to_string(t) + ": token " + hex(token) + " after " + std::to_string(n) +
				     " completions, expected token " + hex(m.token) + " after " + std::to_string(m.completions) +
				     (m.last.empty() ? std::string() : " (" + m.last + ")"));
		}
		uint64_t boots = 0;
		for (auto& p : rig.pending)
			if (p.kind == Boot)
				++boots, p = {};
		const uint64_t a = s.activation();
		if (a < rig.activation_lo || (rig.activation_hi != UINT64_MAX && a > rig.activation_hi + boots))
			fail("activation " + std::to_string(a) + ", expected " + std::to_string(rig.activation_lo) + " .. " +
			     std::to_string(rig.activation_hi) + " + " + std::to_string(boots) + " boot entries in flight");
		rig.activation_lo = rig.activation_hi = a;
	}

	void ns_memory()
	{
		const int fd = ::open(rig.ns_path.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("cannot open the NS memory file " + rig.ns_path);
		for (auto it = rig.ns_marks.begin(); it != rig.ns_marks.end();) {
			++st.ns_marks_checked;
			std::string got(it->second.size(), '\0');
			const auto n = ::pread(fd, got.data(), got.size(), static_cast<off_t>(rig.ns_offset(it->first)));
			const bool zero = it->second.find_first_not_of('\0') == std::string::npos;
			if (n != static_cast<ssize_t>(got.size()) || got != it->second)
				fail("NS memory at " + hex(it->first) + ": " + bytes_hex(got.data(), got.size()) + ", expected " +
				     (zero ? "zeros after " + rig.reset_what : bytes_hex(it->second.data(), it->second.size())));
			it = zero ? rig.ns_marks.erase(it) : std::next(it);
		}
		::close(fd);
	}
};

}  // namespace

void check(Rig& rig, v1::Monitor::Stub& stub, int round, Stats& st, std::vector<std::string>& failures)
{
	Checker c{rig, stub, round, st, failures, {}};
	auto status = stub.GetState(ctx().get(), {}, &c.s);
	if (!status.ok())
		return c.fail("GetState: " + status.error_message());
	++st.checks;
	if (!rig.initialised) {
		rig.initialised = true;
		rig.rmm_limit = c.s.rmm_limit();
		rig.shared_size = c.s.shared_size();
		rig.epoch = c.s.epoch();
		for (const auto& g : c.s.gpt())
			if (g.pas() == "realm")
				rig.realm_baseline = g.granules();
		rig.ns_path = c.s.ns_memory().path();
		for (const auto& w : c.s.ns_memory().windows())
			rig.ns_windows.push_back({w.base(), w.size(), w.file_offset()});
	}
	c.epoch_and_reset();
	c.regions();
	c.contents();
	c.gpt();
	c.cpus();
	c.ns_memory();
	for (auto& p : rig.pending)
		p = {};  // what was in flight and left no trace (an allocation, a write with the old bytes) is gone
}

}  // namespace el3d::test::storm
