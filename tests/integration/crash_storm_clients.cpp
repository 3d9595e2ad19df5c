// The crash storm's clients and killer (crash_storm.hpp): one thread per CPU allocating, writing
// memory, completing boots with tokens, delegating and undelegating granules, entering CPUs and now and
// then resetting, as fast as it can, each operation recorded as in flight until its answer is in the
// model; then a SIGKILL at a random instant or inside an operation of a chosen kind.
#include "crash_storm.hpp"

#include "el3d/smc.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <random>
#include <thread>

using namespace el3d::test;
using namespace el3d::test::storm;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace v1 = el3d::v1;

namespace {

// Workers hold it shared for each operation; a Reset holds it alone, so that every other
// acknowledged operation is clearly before or after it.
class Gate {
public:
	void enter(bool alone)
	{
		std::unique_lock l(mu_);
		cv_.wait(l, [&] { return !alone_wanted_ && !alone_; });
		if (!alone) {
			++active_;
			return;
		}
		alone_wanted_ = true;
		cv_.wait(l, [&] { return active_ == 0; });
		alone_wanted_ = false;
		alone_ = true;
	}
	void leave(bool alone)
	{
		std::lock_guard l(mu_);
		(alone ? alone_ = false : --active_);
		cv_.notify_all();
	}

private:
	std::mutex mu_;
	std::condition_variable cv_;
	int active_ = 0;
	bool alone_wanted_ = false, alone_ = false;
};

// Typical client-side latency of each kind, to aim kills inside an operation.
std::mutex g_lat_mu;
std::array<double, Count> g_latency_ms = {2, 1, 2, 2, 2, 2, 20};

struct Storm {
	Rig& rig;
	int round;
	uint64_t seed;
	Gate gate;
	std::atomic<bool> stop{false};
	std::atomic<int> want{-1};  // the kind the killer aims at
	std::mutex aim_mu;
	std::condition_variable aim_cv;
	bool aim_started = false;
	std::mutex fail_mu;
	std::vector<std::string> failures;
	std::vector<Stats> stats;

	Storm(Rig& r, int n, uint64_t s) : rig(r), round(n), seed(s), stats(r.threads) {}

	void fail(const std::string& m)
	{
		std::lock_guard l(fail_mu);
		failures.push_back("[" + rig.profile + " round " + std::to_string(round) + ", live] " + m);
	}

	// Under rig.mu: can thread t make an operation of this kind now?
	bool feasible(uint32_t t, int k) const
	{
		if (k == Write) {
			for (const auto& [a, r] : rig.regions)
				if (r.cpu == t)
					return true;
			return false;
		}
		if (k == Delegate || k == Undelegate) {
			for (const auto& g : rig.granules)
				if (g.owner == t && (g.now == Pas::Ns) == (k == Delegate))
					return true;
			return false;
		}
		return true;
	}

	int choose(uint32_t t, std::mt19937_64& rng, bool& aimed)
	{
		static const int weights[Count] = {30, 30, 8, 12, 12, 5, 1};
		std::lock_guard l(rig.mu);
		int w = want.load();
		if (w >= 0 && feasible(t, w) && want.compare_exchange_strong(w, -1)) {
			aimed = true;
			return w;
		}
		for (;;) {
			int x = static_cast<int>(rng() % 98);
			int k = 0;
			while (x >= weights[k])
				x -= weights[k++];
			if (feasible(t, k))
				return k;
		}
	}

	void worker(uint32_t t)
	{
		auto stub = connect(rig.daemon.socket);
		std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + t + 1);
		while (!stop) {
			bool aimed = false;
			const int k = choose(t, rng, aimed);
			gate.enter(k == Reset);
			const bool ok = !stop && op(*stub, t, k, rng, aimed);
			gate.leave(k == Reset);
			if (!ok)
				break;
		}
	}

	// One operation; false when the daemon did not answer (it was killed).
	bool op(v1::Monitor::Stub& stub, uint32_t t, int k, std::mt19937_64& rng, bool aimed);
	v1::SmcResponse call(v1::Monitor::Stub& stub, uint32_t t, uint64_t fid, uint64_t x1, uint64_t x2, uint64_t x3,
	                     bool& ok)
	{
		v1::SmcRequest req;
		req.set_cpu(t);
		req.set_fid(fid);
		req.set_x1(x1);
		req.set_x2(x2);
		req.set_x3(x3);
		v1::SmcResponse resp;
		ok = stub.Smc(ctx(20s).get(), req, &resp).ok();
		return resp;
	}
};

bool Storm::op(v1::Monitor::Stub& stub, uint32_t t, int k, std::mt19937_64& rng, bool aimed)
{
	const bool seed_abi = rig.profile == "seed";
	Pending p;
	uint64_t rerequest = 0;  // seed: address of an own tagged region asked for again
	{
		std::lock_guard l(rig.mu);
		if (!feasible(t, k))
			k = Alloc;  // a reset came first and took the regions or delegations it needed
		p.kind = k;
		if (k == Alloc) {
			p.size = (rng() & 1) ? 1 + rng() % 512 : 1 + rng() % 8192;
			p.align = rng() % 13;
			if (seed_abi && rng() % 10 == 0) {
				for (const auto& [a, r] : rig.regions)
					if (r.cpu == t && r.id != 0 && rng() % 4 == 0)
						rerequest = a, p.size = r.size, p.id = r.id;
			}
			if (seed_abi && rerequest == 0 && rng() % 4 != 0 && rig.next_id < 65535)
				p.id = rig.next_id++;
		} else if (k == Write) {
			std::vector<const RegionM*> own;
			for (const auto& [a, r] : rig.regions)
				if (r.cpu == t)
					own.push_back(&r);
			const RegionM& r = *own[rng() % own.size()];
			const uint64_t len = 1 + rng() % std::min<uint64_t>(r.size, 2048);
			p.region = r.addr;
			p.offset = rng() % (r.size - len + 1);
			p.data.resize(len);
			for (auto& c : p.data)
				c = static_cast<char>(rng());
		} else if (k == Delegate || k == Undelegate) {
			std::vector<std::size_t> mine;
			for (std::size_t i = 0; i < rig.granules.size(); ++i)
				if (rig.granules[i].owner == t && (rig.granules[i].now == Pas::Ns) == (k == Delegate))
					mine.push_back(i);
			p.granule = mine[rng() % mine.size()];
		} else if (k == BootComplete) {
			p.token = rng() | 1;
		}
		rig.pending[t] = p;
	}
	if (aimed) {
		std::lock_guard l(aim_mu);
		aim_started = true;
		aim_cv.notify_all();
	}
	const auto t0 = Clock::now();
	bool ok = false;
	v1::SmcResponse r;
	v1::BootResponse boot;
	if (k == Alloc) {
		if (seed_abi)
			r = call(stub, t, EL3_FID_RMM_ALLOCATE_MEMORY, p.size, EL3_ALLOC_X2(p.align, p.id), 0, ok);
		else
			r = call(stub, t, EL3_FID_RMM_RESERVE_MEMORY, p.size, (p.align << 56) | (rng() & 1), 0, ok);
	} else if (k == Write) {
		v1::WriteMemoryRequest req;
		req.set_address(p.region + p.offset);
		req.set_data(p.data);
		v1::WriteMemoryResponse resp;
		ok = stub.WriteMemory(ctx(20s).get(), req, &resp).ok();
	} else if (k == BootComplete) {
		r = call(stub, t, EL3_FID_RMM_BOOT_COMPLETE, 0, p.token, 0, ok);
	} else if (k == Delegate || k == Undelegate) {
		const uint64_t pa = rig.granules[p.granule].pa;
		if (!seed_abi && rng() % 3 == 0)
			r = call(stub, t, EL3_FID_FIRME_GM_GPI_SET, pa, 1, k == Delegate ? 0xB : 0x9, ok);
		else
			r = call(stub, t, k == Delegate ? EL3_FID_RMM_GTSI_DELEGATE : EL3_FID_RMM_GTSI_UNDELEGATE, pa, 0, 0, ok);
	} else if (k == Boot) {
		v1::BootRequest req;
		req.set_cpu(t);
		ok = stub.Boot(ctx(20s).get(), req, &boot).ok();
	} else {
		v1::ResetResponse resp;
		ok = stub.Reset(ctx(60s).get(), {}, &resp).ok();
	}
	if (!ok)
		return false;
	const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
	{
		std::lock_guard l(g_lat_mu);
		g_latency_ms[k] = 0.9 * g_latency_ms[k] + 0.1 * ms;
	}
	std::lock_guard l(rig.mu);
	rig.pending[t] = {};
	++stats[t].acked[k];
	const auto x0 = static_cast<int64_t>(r.x0());
	if (k == Alloc) {
		const bool fresh = seed_abi ? x0 == EL3_ALLOC_FRESH : x0 == EL3_E_RMM_OK;
		if (rerequest != 0) {
			if (x0 != EL3_E_RMM_OK || r.x1() != rerequest)
				fail("re-request of tag " + std::to_string(p.id) + " answered x0=" + std::to_string(x0) + " x1=" +
				     hex(r.x1()) + ", expected its region at " + hex(rerequest));
		} else if (fresh) {
			const uint64_t a = r.x1();
			auto above = rig.regions.lower_bound(a);
			if (above != rig.regions.end() && a + p.size > above->first)
				fail("fresh region [" + hex(a) + ", +" + hex(p.size) + ") overlaps " + above->second.what());
			if (above != rig.regions.begin() && std::prev(above)->first + std::prev(above)->second.size > a)
				fail("fresh region [" + hex(a) + ", +" + hex(p.size) + ") overlaps " + std::prev(above)->second.what());
			rig.regions[a] = RegionM{a, p.size, p.id, t, rig.epoch, round, std::string(p.size, '\0')};
			rig.low_water = std::min(rig.low_water, a);
		} else if (x0 != EL3_E_RMM_NOMEM) {
			fail(std::string("allocation of ") + hex(p.size) + " answered x0=" + std::to_string(x0));
		}
	} else if (k == Write) {
		auto it = rig.regions.find(p.region);
		if (it != rig.regions.end())
			it->second.content.replace(p.offset, p.data.size(), p.data);
	} else if (k == BootComplete) {
		if (x0 != EL3_E_RMM_OK)
			fail("RMM_BOOT_COMPLETE of cpu " + std::to_string(t) + " answered " + std::to_string(x0));
		CpuM& c = rig.cpus[t];
		c = CpuM{p.token, c.completions + 1, "RMM_BOOT_COMPLETE acknowledged in round " + std::to_string(round)};
	} else if (k == Delegate || k == Undelegate) {
		GranuleM& g = rig.granules[p.granule];
		if (x0 != 0)
			fail(std::string(kind_name(k)) + " of " + g.what() + " answered x0=" + std::to_string(x0) +
			     " (fid " + hex(r.x0()) + "): the model says " + pas_name(g.now) + ", " + g.last);
		g.now = k == Delegate ? Pas::Realm : Pas::Ns;
		g.last = std::string(kind_name(k)) + " acknowledged in round " + std::to_string(round) + " (epoch " +
		         std::to_string(rig.epoch) + ")";
	} else if (k == Boot) {
		const uint64_t want_token = rig.cpus.count(t) ? rig.cpus[t].token : 0;
		const uint64_t handed = boot.kind() == v1::ENTRY_KIND_COLD ? boot.x4() : boot.x1();
		if (!seed_abi && handed != want_token)
			fail("Boot of cpu " + std::to_string(t) + " handed back token " + hex(handed) + ", expected " +
			     hex(want_token) + (rig.cpus.count(t) ? " (" + rig.cpus[t].last + ")" : std::string()));
		rig.activation_lo = std::max(rig.activation_lo, boot.activation());
		if (rig.activation_hi != UINT64_MAX)
			rig.activation_hi = std::max(rig.activation_hi, boot.activation());
	} else {
		rig.model_reset(round, "the acknowledged Reset");
	}
	return true;
}

// Write a few bytes of Non-secure memory through the NS memory file, as a mapped client would.
void write_ns_mark(Rig& rig, std::mt19937_64& rng)
{
	const uint64_t pa = 0x80000000 + (rng() % (64 << 20) & ~uint64_t{63});
	if (rig.ns_path.empty() || rig.ns_offset(pa) == UINT64_MAX)
		return;
	std::string bytes(64, '\0');
	for (auto& c : bytes)
		c = static_cast<char>(rng() | 1);
	const int fd = ::open(rig.ns_path.c_str(), O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0) << rig.ns_path;
	ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(rig.ns_offset(pa))), 64);
	::close(fd);
	rig.ns_marks[pa] = bytes;
}

}  // namespace

namespace el3d::test::storm {

void run_round(Rig& rig, int round, uint64_t seed, std::mt19937_64& rng, Stats& total, std::vector<std::string>& failures)
{
	write_ns_mark(rig, rng);
	Storm storm(rig, round, seed);
	std::vector<std::thread> workers;
	for (uint32_t t = 0; t < rig.threads; ++t)
		workers.emplace_back([&storm, t] { storm.worker(t); });
	// A quarter of the kills fall anywhere; the others wait for an operation of one kind to
	// start and fall inside it (the kind's typical latency, measured as the storm runs).
	std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 120));
	const int aim = rng() % 4 == 0 ? -1 : static_cast<int>(rng() % Count);
	double delay_ms = static_cast<double>(rng() % 200);
	if (aim >= 0) {
		storm.want = aim;
		std::unique_lock l(storm.aim_mu);
		if (storm.aim_cv.wait_for(l, 2s, [&] { return storm.aim_started; })) {
			std::lock_guard g(g_lat_mu);
			delay_ms = std::uniform_real_distribution<double>(0, 1.3 * g_latency_ms[aim])(rng);
			++total.aimed[aim];
		}
	}
	std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms));
	storm.stop = true;  // no operation starts after the kill: each thread's last one is the one in flight
	rig.daemon.signal(SIGKILL);
	const int rc = rig.daemon.wait();
	if (rc != 128 + SIGKILL)
		failures.push_back("[" + rig.profile + "] el3d ended with " + std::to_string(rc) + ", not by the SIGKILL");
	rig.kill_round = round;
	for (auto& w : workers)
		w.join();
	++total.kills;
	++total.rounds;
	for (const auto& s : storm.stats)
		total.add(s);
	for (const auto& p : rig.pending)
		if (p.kind >= 0)
			++total.in_flight[p.kind];
	failures.insert(failures.end(), storm.failures.begin(), storm.failures.end());
}

}  // namespace el3d::test::storm
