// How a carveout file keeps its changes: torn writes, I/O errors, reset, process death.
#include "carveout_test_util.hpp"

#include <linux/magic.h>
#include <sys/vfs.h>
#include <sys/wait.h>

using namespace el3d;
using el3d::test::TempDir;
using namespace el3d::test;

TEST(CarveoutCrash, TornStateCommitFallsBackToPreviousGeneration)
{
	TempDir d;
	const auto path = d.file("c.img");
	unsigned torn_copy;
	{
		auto c = Carveout::open(req(path));
		c->commit_state({{"v", 1}});  // generation 2 goes to copy 1
		c->commit_state({{"v", 2}});  // generation 3 goes to copy 0
		torn_copy = 0;
	}
	// A crash in the middle of writing copy 0 leaves a bad CRC there.
	int fd = ::open(path.c_str(), O_WRONLY);
	ASSERT_EQ(::pwrite(fd, "\x5a\x5a", 2, static_cast<off_t>(format::kSuperblockArea + torn_copy * format::kStateCopySize + 32)), 2);
	::close(fd);
	auto c = Carveout::open(req(path));
	EXPECT_EQ(c->state()["v"], 1);
	EXPECT_EQ(c->state_generation(), 2u);
	c->commit_state({{"v", 3}});  // and it keeps working: the next commit overwrites the torn copy
	c.reset();
	EXPECT_EQ(Carveout::open(req(path))->state()["v"], 3);
}

TEST(CarveoutCrash, TornLogRecordEndsTheLog)
{
	TempDir d;
	const auto path = d.file("c.img");
	uint64_t log_off;
	{
		auto c = Carveout::open(req(path));
		for (uint32_t i = 0; i < 3; ++i)
			ASSERT_TRUE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x1000 * (i + 1), .size = 0x1000}));
		format::Superblock sb{};
		int fd = ::open(path.c_str(), O_RDONLY);
		::pread(fd, &sb, sizeof(sb), 0);
		::close(fd);
		log_off = sb.log_offset;
	}
	int fd = ::open(path.c_str(), O_WRONLY);
	ASSERT_EQ(::pwrite(fd, "\x01", 1, static_cast<off_t>(log_off + 2 * 64 + 20)), 1);
	::close(fd);
	EXPECT_EQ(Carveout::open(req(path))->log().size(), 2u);
}

TEST(Carveout, ResetEmptiesLogZeroesImageAndBumpsEpoch)
{
	TempDir d;
	const auto path = d.file("c.img");
	{
		auto c = Carveout::open(req(path));
		const uint64_t pa = c->geometry().rmm_limit - 0x1000;
		std::memset(c->ptr(pa), 0xab, 0x1000);
		c->append(AllocRecord{.addr = pa, .size = 0x1000, .id = 1});
		c->reset({{"fresh", true}});
		EXPECT_EQ(c->epoch(), 2u);
		EXPECT_TRUE(c->log().empty());
		EXPECT_EQ(c->ptr(pa)[0], 0);
		EXPECT_EQ(c->ptr(pa)[0xfff], 0);
		c->append(AllocRecord{.addr = pa, .size = 0x10, .id = 2});
	}
	auto c = Carveout::open(req(path));
	EXPECT_EQ(c->epoch(), 2u);
	ASSERT_EQ(c->log().size(), 1u);
	EXPECT_EQ(c->log()[0].id, 2u);
	EXPECT_EQ(c->state()["fresh"], true);
}

TEST(Carveout, ZeroClearsOnlyTheRange)
{
	TempDir d;
	auto c = Carveout::open(req(d.file("c.img")));
	const uint64_t base = c->geometry().rmm_limit - 0x4000;
	std::memset(c->ptr(base), 0x11, 0x4000);
	ASSERT_FALSE(c->zero(base + 0x800, 0x2000));
	EXPECT_EQ(c->ptr(base + 0x7ff)[0], 0x11);
	EXPECT_EQ(c->ptr(base + 0x800)[0], 0);
	EXPECT_EQ(c->ptr(base + 0x27ff)[0], 0);
	EXPECT_EQ(c->ptr(base + 0x2800)[0], 0x11);
	EXPECT_TRUE(c->zero(c->geometry().image_end() - 0x10, 0x20));  // out of range
}

// On tmpfs (no FALLOC_FL_ZERO_RANGE) zero() punches a range that holds data, and only reserves one that is all
// holes: both read as zero afterwards, with their pages reserved, and nothing outside the range changes.
TEST(Carveout, ZeroOnTmpfsClearsDataAndReservesHoles)
{
	struct statfs fs {};
	if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC)
		GTEST_SKIP() << "no tmpfs at /dev/shm: the ZERO_RANGE fallback is for file systems such as tmpfs";
	TempDir d("/dev/shm");
	const auto path = d.file("c.img");
	auto c = Carveout::open(req(path));
	const uint64_t base = c->geometry().rmm_limit - 0x10000;
	std::memset(c->ptr(base), 0x22, 0x4000);  // data in [base, base + 16 KiB); holes above
	const uint64_t before = allocated_bytes(path);
	ASSERT_FALSE(c->zero(base + 0x1000, 0x2000));   // data: punched and reserved
	ASSERT_FALSE(c->zero(base + 0x8000, 0x8000));   // holes: reserved
	EXPECT_EQ(c->ptr(base + 0xfff)[0], 0x22);
	for (uint64_t o = 0x1000; o < 0x3000; o += 0x100)
		EXPECT_EQ(c->ptr(base + o)[0], 0) << std::hex << o;
	EXPECT_EQ(c->ptr(base + 0x3000)[0], 0x22);
	for (uint64_t o = 0x8000; o < 0x10000; o += 0x100)
		EXPECT_EQ(c->ptr(base + o)[0], 0) << std::hex << o;
	EXPECT_GE(allocated_bytes(path), before + 0x8000) << "the holes were not reserved";
}

TEST(Carveout, LogFullIsReported)
{
	TempDir d;
	auto r = req(d.file("c.img"));
	r.log_capacity = 2;
	auto c = Carveout::open(r);
	EXPECT_TRUE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x1000, .size = 0x1000}));
	EXPECT_TRUE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x2000, .size = 0x1000}));
	EXPECT_FALSE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x3000, .size = 0x1000}));
	EXPECT_EQ(c->log().size(), 2u);
}

TEST(Carveout, GptMapPersistsAndResets)
{
	TempDir d;
	const auto path = d.file("c.img");
	{
		auto c = Carveout::open(req(path));
		c->gpt_map()[100] = 0x25;
		ASSERT_FALSE(c->sync_gpt(100, 1));
		EXPECT_TRUE(c->sync_gpt(c->gpt_map_size(), 1));
	}
	auto c = Carveout::open(req(path));
	EXPECT_EQ(c->gpt_map()[100], 0x25);
	EXPECT_EQ(c->geometry().dram.size(), 2u);
	EXPECT_EQ(c->geometry().pa_bits, 40u);
	c->reset({});
	EXPECT_EQ(c->gpt_map()[100], 0);
}

// A failing disk: the record or state copy was written (it is in the page cache) but could not be
// flushed, so the caller is told the change failed. It must not come back when the file is opened
// again, or a client would find an allocation it was told did not happen.
TEST(CarveoutIoError, FailedLogFlushDoesNotBringTheAllocationBack)
{
	TempDir d;
	const auto path = d.file("c.img");
	uint64_t limit;
	{
		auto c = Carveout::open(req(path));
		limit = c->geometry().rmm_limit;
		ASSERT_TRUE(c->append(AllocRecord{.addr = limit - 0x1000, .size = 0x1000, .id = 1}));
		c->fail_metadata_syncs_for_testing(1);
		EXPECT_THROW(c->append(AllocRecord{.addr = limit - 0x3000, .size = 0x2000, .id = 2}), SystemError);
		EXPECT_EQ(c->log().size(), 1u);
	}
	{
		auto c = Carveout::open(req(path));
		ASSERT_EQ(c->log().size(), 1u) << "the allocation that failed came back";
		EXPECT_EQ(c->log()[0].id, 1u);
		// The slot is used by the next allocation as if nothing had happened.
		ASSERT_TRUE(c->append(AllocRecord{.addr = limit - 0x2000, .size = 0x1000, .id = 3}));
	}
	auto c = Carveout::open(req(path));
	ASSERT_EQ(c->log().size(), 2u);
	EXPECT_EQ(c->log()[1].id, 3u);
	EXPECT_EQ(c->log()[1].addr, limit - 0x2000);
}

TEST(CarveoutIoError, UnvoidableRecordIsOverwrittenByTheNextAppend)
{
	TempDir d;
	const auto path = d.file("c.img");
	uint64_t limit;
	{
		auto c = Carveout::open(req(path));
		limit = c->geometry().rmm_limit;
		c->fail_metadata_syncs_for_testing(2);  // the record's flush and the voiding's flush
		EXPECT_THROW(c->append(AllocRecord{.addr = limit - 0x1000, .size = 0x1000, .id = 1}), SystemError);
		EXPECT_TRUE(c->log().empty());
		ASSERT_TRUE(c->append(AllocRecord{.addr = limit - 0x4000, .size = 0x4000, .id = 2}));
	}
	auto c = Carveout::open(req(path));
	ASSERT_EQ(c->log().size(), 1u);
	EXPECT_EQ(c->log()[0].id, 2u);
	EXPECT_EQ(c->log()[0].size, 0x4000u);
}

TEST(CarveoutIoError, FailedStateFlushKeepsTheCommittedState)
{
	TempDir d;
	const auto path = d.file("c.img");
	{
		auto c = Carveout::open(req(path));
		c->commit_state({{"answer", 1}});
		ASSERT_TRUE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x1000, .size = 0x1000, .id = 1}));
		c->fail_metadata_syncs_for_testing(1);
		EXPECT_THROW(c->commit_state({{"answer", 2}}), SystemError);
		EXPECT_EQ(c->state()["answer"], 1);
		EXPECT_EQ(c->state_generation(), 2u);
		// A reset whose commit cannot be flushed changes nothing either.
		c->fail_metadata_syncs_for_testing(1);
		EXPECT_THROW(c->reset({{"answer", 0}}), SystemError);
		EXPECT_EQ(c->epoch(), 1u);
		EXPECT_EQ(c->log().size(), 1u);
	}
	auto c = Carveout::open(req(path));
	EXPECT_EQ(c->state()["answer"], 1) << "a state change that failed came back";
	EXPECT_EQ(c->state_generation(), 2u);
	EXPECT_EQ(c->epoch(), 1u);
	EXPECT_EQ(c->log().size(), 1u);
	// And the next commit works and wins.
	c->commit_state({{"answer", 3}});
	c.reset();
	EXPECT_EQ(Carveout::open(req(path))->state()["answer"], 3);
}

// A creator killed while it built the file under its temporary name leaves that name behind.
TEST(Carveout, ProcessDurabilityLosesNothingWhenTheProcessDies)
{
	TempDir d;
	const std::string path = d.file("c.img");
	uint64_t pa = 0;
	{
		auto c = Carveout::open(req(path));
		pa = c->geometry().rmm_limit - 0x1000;
	}
	const pid_t pid = ::fork();
	if (pid == 0) {
		CarveoutOpenRequest r = req(path);
		r.durability = Durability::Process;
		auto c = Carveout::open(r);
		if (c->durability() != Durability::Process || c->zero(pa, 0x1000))
			::_exit(2);
		std::memset(c->ptr(pa), 0xab, 0x1000);
		c->append(AllocRecord{pa, 0x1000, 1, 0, 1, 0, 0, 12});
		c->commit_state({{"k", 42}});
		c->gpt_map()[0] = 0x03;
		::_exit(0);
	}
	int status = 0;
	::waitpid(pid, &status, 0);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	auto c = Carveout::open(req(path));
	ASSERT_EQ(c->log().size(), 1u);
	EXPECT_EQ(c->log()[0].addr, pa);
	EXPECT_EQ(c->state().value("k", 0), 42);
	EXPECT_EQ(c->gpt_map()[0], 0x03);
	EXPECT_EQ(c->ptr(pa)[0], 0xab);
	EXPECT_EQ(c->ptr(pa)[0xfff], 0xab);
}

// A reset's commit carries the mark until the caller's last commit: a file reopened in between says
// so, with the new epoch, an empty log and a cleared image and GPT map.
TEST(Carveout, AResetIsMarkedUnfinishedUntilTheNextCommit)
{
	TempDir d;
	const std::string path = d.file("c.img");
	uint64_t pa = 0;
	{
		auto c = Carveout::open(req(path));
		pa = c->geometry().rmm_limit - 0x1000;
		ASSERT_FALSE(c->zero(pa, 0x1000));
		std::memset(c->ptr(pa), 0xcd, 0x1000);
		ASSERT_TRUE(c->append(AllocRecord{pa, 0x1000, 1, 0, 1, 0, 0, 12}));
		c->gpt_map()[5] = 0x30;
		c->reset({{"fresh", true}});
		EXPECT_TRUE(c->reset_pending());
		EXPECT_EQ(c->epoch(), 2u);
	}
	{
		auto c = Carveout::open(req(path));
		EXPECT_TRUE(c->reset_pending());
		EXPECT_TRUE(c->log().empty());
		EXPECT_EQ(c->gpt_map()[5], 0);
		EXPECT_EQ(c->ptr(pa)[0], 0);
		c->commit_state({{"fresh", true}});
		EXPECT_FALSE(c->reset_pending());
	}
	auto c = Carveout::open(req(path));
	EXPECT_FALSE(c->reset_pending());
	EXPECT_EQ(c->epoch(), 2u);
}

