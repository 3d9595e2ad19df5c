// Power durability's group commit (Carveout::begin_batch / end_batch / make_durable): one flush per batch, shared
// by batches closed before it starts, and state commits that never leave both copies unflushed.
#include "carveout_test_util.hpp"

#include <mutex>
#include <thread>
#include <vector>

using namespace el3d;
using namespace el3d::test;

namespace {

uint64_t generation_of_copy(const std::string& path, unsigned copy)
{
	format::StateHeader h{};
	const int fd = ::open(path.c_str(), O_RDONLY);
	EXPECT_EQ(::pread(fd, &h, sizeof(h), static_cast<off_t>(format::kSuperblockArea + copy * format::kStateCopySize)),
	          static_cast<ssize_t>(sizeof(h)));
	::close(fd);
	return h.generation;
}

}  // namespace

TEST(GroupCommit, ABatchTakesOneFlushWhateverItWrote)
{
	TempDir d;
	auto c = Carveout::open(req(d.file("c.img")));
	ASSERT_EQ(c->durability(), Durability::Power);
	const FlushStats before = c->flush_stats();
	c->begin_batch();
	ASSERT_FALSE(c->zero(c->geometry().rmm_limit - 0x2000, 0x2000));
	ASSERT_TRUE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x2000, .size = 0x2000, .id = 1, .align_bits = 12}));
	c->commit_state({{"v", 1}});
	c->commit_state({{"v", 2}});
	ASSERT_FALSE(c->sync_gpt(0, 1));
	const uint64_t ticket = c->end_batch();
	EXPECT_NE(ticket, 0u);
	EXPECT_EQ(c->flush_stats().flushes, before.flushes) << "nothing is flushed before make_durable()";
	c->make_durable(ticket);
	const FlushStats after = c->flush_stats();
	EXPECT_EQ(after.flushes - before.flushes, 1u);
	EXPECT_EQ(after.batch_flushes - before.batch_flushes, 1u);
	EXPECT_EQ(after.batches - before.batches, 1u);
	c->make_durable(ticket);  // already durable: no second flush
	EXPECT_EQ(c->flush_stats().flushes, after.flushes);
	// A batch that wrote nothing waits for nothing.
	c->begin_batch();
	EXPECT_EQ(c->end_batch(), 0u);
}

TEST(GroupCommit, CommitsOfOneBatchLeaveTheDurableCopyAlone)
{
	TempDir d;
	const auto path = d.file("c.img");
	auto c = Carveout::open(req(path));
	c->commit_state({{"v", 1}});  // outside a batch: flushed at once
	const uint64_t durable_gen = c->state_generation();
	unsigned durable_copy = generation_of_copy(path, 0) == durable_gen ? 0 : 1;
	ASSERT_EQ(generation_of_copy(path, durable_copy), durable_gen);
	c->begin_batch();
	c->commit_state({{"v", 2}});
	c->commit_state({{"v", 3}});
	c->commit_state({{"v", 4}});
	const uint64_t ticket = c->end_batch();
	// Not flushed yet: the copy a power cut could tear is the other one, and the durable copy is as it was.
	EXPECT_EQ(generation_of_copy(path, durable_copy), durable_gen);
	EXPECT_EQ(generation_of_copy(path, 1 - durable_copy), durable_gen + 3);
	c->make_durable(ticket);
	// Once durable, the next batch's commit goes to the older copy again.
	c->begin_batch();
	c->commit_state({{"v", 5}});
	c->make_durable(c->end_batch());
	EXPECT_EQ(generation_of_copy(path, durable_copy), durable_gen + 4);
	c.reset();
	EXPECT_EQ(Carveout::open(req(path))->state()["v"], 5);
}

TEST(GroupCommit, ConcurrentWaitersShareFlushes)
{
	TempDir d;
	auto c = Carveout::open(req(d.file("c.img")));
	std::mutex mu;  // what the monitor's lock is to the carveout
	constexpr unsigned kThreads = 4, kBatches = 50;
	const FlushStats before = c->flush_stats();
	std::vector<std::thread> threads;
	for (unsigned t = 0; t < kThreads; ++t)
		threads.emplace_back([&, t] {
			for (unsigned i = 0; i < kBatches; ++i) {
				uint64_t ticket = 0;
				{
					const std::lock_guard lock(mu);
					c->begin_batch();
					c->gpt_map()[t] = static_cast<uint8_t>(i);
					EXPECT_FALSE(c->sync_gpt(t, 1));
					ticket = c->end_batch();
				}
				c->make_durable(ticket);
			}
		});
	for (auto& th : threads)
		th.join();
	const FlushStats after = c->flush_stats();
	EXPECT_EQ(after.batches - before.batches, kThreads * kBatches);
	EXPECT_LE(after.batch_flushes - before.batch_flushes, kThreads * kBatches);
	EXPECT_EQ(after.batch_flushes - before.batch_flushes + after.grouped - before.grouped, kThreads * kBatches)
	    << "every batch either led a flush or was covered by another's";
}

TEST(GroupCommit, ProcessDurabilityHasNothingToFlush)
{
	TempDir d;
	auto r = req(d.file("c.img"));
	r.durability = Durability::Process;
	auto c = Carveout::open(r);
	c->begin_batch();
	c->commit_state({{"v", 1}});
	EXPECT_EQ(c->end_batch(), 0u);
	EXPECT_EQ(c->flush_stats().flushes, 0u);
	EXPECT_EQ(c->flush_stats().grouped, 0u);
	EXPECT_EQ(c->flush_stats().batches, 0u);
	EXPECT_EQ(durability_from_name("power"), Durability::Power);
	EXPECT_EQ(durability_from_name("process"), Durability::Process);
	EXPECT_FALSE(durability_from_name("disk"));
	EXPECT_STREQ(durability_name(Durability::Process), "process");
}
