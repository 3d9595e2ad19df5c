#include "el3d/worldswitch/world_switch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

using namespace el3d::ws;
using namespace std::chrono_literals;

namespace {

// A caller on its own thread; the test fails (instead of hanging) if it does not finish.
struct Caller {
	std::atomic<bool> give_up{false};
	RmiRegs out{};
	std::future<RmiError> done;
	Caller(WorldSwitch& w, unsigned cpu, uint64_t fid, bool fail_fast = false)
	{
		done = std::async(std::launch::async, [&w, this, cpu, fid, fail_fast] {
			return w.call(cpu, Rmi{fid, {fid + 1}}, fail_fast, [this] { return give_up.load(); }, out);
		});
	}
	RmiError result()
	{
		EXPECT_EQ(done.wait_for(5s), std::future_status::ready) << "the caller did not finish";
		return done.get();
	}
};

// Until `pred` holds (or 5 s): the world switch's threads make progress on their own.
template <class Pred>
bool eventually(Pred pred)
{
	for (int i = 0; i < 500; ++i) {
		if (pred())
			return true;
		std::this_thread::sleep_for(10ms);
	}
	return false;
}

RmiRegs regs(uint64_t x0) { return {x0, x0 + 1, x0 + 2, x0 + 3, x0 + 4, x0 + 5, x0 + 6, x0 + 7}; }

}  // namespace

TEST(WorldSwitch, HandsAnRmiToTheWaitingRmmAndItsResultBack)
{
	WorldSwitch w(2);
	Caller c(w, 1, 0xC4000150);
	Rmi got;
	ASSERT_TRUE(w.wait(1, got, nullptr));
	EXPECT_EQ(got.fid, 0xC4000150u);
	EXPECT_EQ(got.x[0], 0xC4000151u);
	EXPECT_EQ(w.view(1).state, RmiState::Serving);
	EXPECT_EQ(w.view(1).fid, 0xC4000150u);
	EXPECT_TRUE(w.complete(1, regs(0x10)));
	EXPECT_EQ(c.result(), RmiError::None);
	EXPECT_EQ(c.out, regs(0x10));
	EXPECT_EQ(w.view(1).served, 1u);
	EXPECT_FALSE(w.complete(1, regs(0)));  // nothing held any more
}

TEST(WorldSwitch, FailFastOnlyWhenNoRmmWaits)
{
	WorldSwitch w(1);
	RmiRegs out{};
	EXPECT_EQ(w.call(0, Rmi{0xC4000150}, true, nullptr, out), RmiError::NoRmm);
	EXPECT_EQ(w.view(0).queued, 0u);
	std::atomic<bool> stop{false};
	auto rmm = std::async(std::launch::async, [&] {
		Rmi r;
		if (!w.wait(0, r, [&] { return stop.load(); }))
			return false;
		return w.complete(0, regs(r.fid));
	});
	ASSERT_TRUE(eventually([&] { return w.view(0).state == RmiState::Waiting; }));
	EXPECT_EQ(w.call(0, Rmi{0xC4000151}, true, nullptr, out), RmiError::None);
	EXPECT_EQ(out[0], 0xC4000151u);
	EXPECT_TRUE(rmm.get());
}

TEST(WorldSwitch, TheQueueIsBoundedAndServedInOrder)
{
	WorldSwitch w(1, 2);
	Caller a(w, 0, 0x100);
	ASSERT_TRUE(eventually([&] { return w.view(0).queued == 1; }));
	Caller b(w, 0, 0x200);
	ASSERT_TRUE(eventually([&] { return w.view(0).queued == 2; }));
	RmiRegs out{};
	EXPECT_EQ(w.call(0, Rmi{0x300}, false, nullptr, out), RmiError::QueueFull);
	for (uint64_t fid : {0x100u, 0x200u}) {
		Rmi r;
		ASSERT_TRUE(w.wait(0, r, nullptr));
		EXPECT_EQ(r.fid, fid);
		EXPECT_TRUE(w.complete(0, regs(fid)));
	}
	EXPECT_EQ(a.result(), RmiError::None);
	EXPECT_EQ(a.out[0], 0x100u);
	EXPECT_EQ(b.result(), RmiError::None);
	EXPECT_EQ(b.out[0], 0x200u);
}

TEST(WorldSwitch, AnRmmLeavingFailsTheRmiItHeldAndLeavesTheQueueToTheNextRmm)
{
	WorldSwitch w(1);
	Caller a(w, 0, 0x100);
	Rmi r;
	ASSERT_TRUE(w.wait(0, r, nullptr));
	Caller b(w, 0, 0x200);
	ASSERT_TRUE(eventually([&] { return w.view(0).queued == 1; }));
	w.leave(0);
	EXPECT_EQ(a.result(), RmiError::RmmGone);
	EXPECT_EQ(w.view(0).state, RmiState::Absent);
	// A new RMM on the CPU serves what was queued.
	ASSERT_TRUE(w.wait(0, r, nullptr));
	EXPECT_EQ(r.fid, 0x200u);
	EXPECT_TRUE(w.complete(0, regs(7)));
	EXPECT_EQ(b.result(), RmiError::None);
	EXPECT_EQ(b.out[0], 7u);
}

TEST(WorldSwitch, ACallerGivingUpWithdrawsAQueuedRmiAndAbandonsAHeldOne)
{
	WorldSwitch w(1, 64, 5ms);
	Caller queued(w, 0, 0x100);
	ASSERT_TRUE(eventually([&] { return w.view(0).queued == 1; }));
	queued.give_up = true;
	EXPECT_EQ(queued.result(), RmiError::GaveUp);
	EXPECT_EQ(w.view(0).queued, 0u);

	Caller held(w, 0, 0x200);
	Rmi r;
	ASSERT_TRUE(w.wait(0, r, nullptr));
	EXPECT_EQ(r.fid, 0x200u);
	held.give_up = true;
	EXPECT_EQ(held.result(), RmiError::GaveUp);
	// The RMM finishes it anyway: its result is dropped, and the CPU serves the next RMI.
	EXPECT_TRUE(w.complete(0, regs(1)));
	EXPECT_EQ(w.view(0).dropped, 1u);
	Caller next(w, 0, 0x300);
	ASSERT_TRUE(w.wait(0, r, nullptr));
	EXPECT_EQ(r.fid, 0x300u);
	EXPECT_TRUE(w.complete(0, regs(3)));
	EXPECT_EQ(next.result(), RmiError::None);
	EXPECT_EQ(next.out[0], 3u);
}

TEST(WorldSwitch, AnRmmWaitEndsWhenItsSessionIsGone)
{
	WorldSwitch w(1, 64, 5ms);
	std::atomic<bool> gone{false};
	auto rmm = std::async(std::launch::async, [&] {
		Rmi r;
		return w.wait(0, r, [&] { return gone.load(); });
	});
	ASSERT_TRUE(eventually([&] { return w.view(0).state == RmiState::Waiting; }));
	gone = true;
	ASSERT_EQ(rmm.wait_for(5s), std::future_status::ready);
	EXPECT_FALSE(rmm.get());
	EXPECT_EQ(w.view(0).state, RmiState::Absent);
}

TEST(WorldSwitch, CpusAreIndependent)
{
	WorldSwitch w(2);
	Caller on1(w, 1, 0x111);
	Rmi r1;
	ASSERT_TRUE(w.wait(1, r1, nullptr));  // CPU 1's RMM holds its RMI...
	Caller on0(w, 0, 0x100);
	Rmi r0;
	ASSERT_TRUE(w.wait(0, r0, nullptr));  // ...while CPU 0's serves another
	EXPECT_EQ(r0.fid, 0x100u);
	EXPECT_TRUE(w.complete(0, regs(0)));
	EXPECT_EQ(on0.result(), RmiError::None);
	EXPECT_EQ(w.view(1).state, RmiState::Serving);
	EXPECT_TRUE(w.complete(1, regs(1)));
	EXPECT_EQ(on1.result(), RmiError::None);
	EXPECT_EQ(on1.out[0], 1u);
}

TEST(WorldSwitch, AResultThatArrivesAsItsCallerGivesUpIsDroppedNotDelivered)
{
	WorldSwitch w(1, 64, std::chrono::seconds(2));  // the caller does not poll before it is woken
	Caller c(w, 0, 0x100);
	Rmi r;
	ASSERT_TRUE(w.wait(0, r, nullptr));
	c.give_up = true;  // its deadline passed; the RMM completes before the next poll
	EXPECT_TRUE(w.complete(0, regs(5)));
	EXPECT_EQ(c.result(), RmiError::GaveUp);
	EXPECT_EQ(w.view(0).dropped, 1u);
}
