#include "el3d/carveout/carveout.hpp"

#include "../src/format.hpp"
#include "el3d/util/fd.hpp"
#include "tempdir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

using namespace el3d;
using el3d::test::TempDir;

namespace {

CarveoutOpenRequest req(const std::string& path)
{
	CarveoutOpenRequest r;
	r.path = path;
	return r;
}

CarveoutRefusal refusal_of(const CarveoutOpenRequest& r)
{
	try {
		Carveout::open(r);
	} catch (const CarveoutError& e) {
		return e.refusal();
	}
	ADD_FAILURE() << "open unexpectedly succeeded";
	return CarveoutRefusal::Io;
}

uint64_t allocated_bytes(const std::string& path)
{
	struct stat st {};
	::stat(path.c_str(), &st);
	return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace

TEST(Carveout, CreatesSparseFvpFileWithHeader)
{
	TempDir d;
	auto c = Carveout::open(req(d.file("sub/dir/c.img")));
	EXPECT_TRUE(c->created());
	EXPECT_EQ(c->geometry().platform, "fvp");
	EXPECT_EQ(c->geometry().rmm_base, 0xFDC00000u);
	EXPECT_EQ(c->epoch(), 1u);
	EXPECT_TRUE(c->log().empty());
	EXPECT_TRUE(c->state().is_object());
	EXPECT_EQ(c->image_offset() % 0x200000, 0u);
	EXPECT_EQ(c->gpt_ranges().size(), 3u);
	EXPECT_GE(c->gpt_map_size(), gpt_map_size(c->gpt_ranges()));
	for (uint64_t i = 0; i < c->gpt_map_size(); ++i)
		ASSERT_EQ(c->gpt_map()[i], 0) << i;
	struct stat st {};
	ASSERT_EQ(::stat(d.file("sub/dir/c.img").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	EXPECT_EQ(static_cast<uint64_t>(st.st_size), c->image_offset() + c->geometry().image_size());
	// Only the metadata is backed by blocks; the 32 MiB image is a hole.
	EXPECT_LT(allocated_bytes(d.file("sub/dir/c.img")), c->image_offset() + (1u << 20));
	std::string head = test::read_file(d.file("sub/dir/c.img")).substr(0, 8);
	EXPECT_EQ(head, "EL3DCARV");
}

TEST(Carveout, LargeGeometryIsCreatedSparse)
{
	TempDir d;
	auto r = req(d.file("sbsa.img"));
	r.platform = "qemu-sbsa";
	auto c = Carveout::open(r);
	EXPECT_GT(c->geometry().image_size(), 1ull << 30);
	EXPECT_LT(allocated_bytes(d.file("sbsa.img")), 16u << 20);
}

TEST(Carveout, ImageStateAndLogSurviveReopen)
{
	TempDir d;
	const auto path = d.file("c.img");
	uint64_t pa;
	{
		auto c = Carveout::open(req(path));
		pa = c->geometry().rmm_limit - 0x1000;
		std::memcpy(c->ptr(pa), "hello", 5);
		ASSERT_FALSE(c->sync(pa, 5));
		ASSERT_TRUE(c->append(AllocRecord{.addr = pa, .size = 0x1000, .id = 1, .cpu = 2, .align_bits = 12}));
		c->commit_state({{"answer", 42}});
		c->commit_state({{"answer", 43}});
	}
	auto c = Carveout::open(req(path));
	EXPECT_FALSE(c->created());
	EXPECT_EQ(std::memcmp(c->ptr(pa), "hello", 5), 0);
	ASSERT_EQ(c->log().size(), 1u);
	EXPECT_EQ(c->log()[0].addr, pa);
	EXPECT_EQ(c->log()[0].id, 1u);
	EXPECT_EQ(c->log()[0].cpu, 2u);
	EXPECT_EQ(c->state()["answer"], 43);
	EXPECT_EQ(c->state_generation(), 3u);
}

TEST(Carveout, SecondOpenerIsRefused)
{
	TempDir d;
	auto c = Carveout::open(req(d.file("c.img")));
	try {
		Carveout::open(req(d.file("c.img")));
		FAIL() << "second open succeeded";
	} catch (const CarveoutError& e) {
		EXPECT_EQ(e.refusal(), CarveoutRefusal::Locked);
		EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos) << e.what();
	}
	// --reset must not replace a file someone holds either.
	auto r = req(d.file("c.img"));
	r.reset = true;
	EXPECT_EQ(refusal_of(r), CarveoutRefusal::Locked);
}

class Refusal : public ::testing::Test {
protected:
	void SetUp() override
	{
		path = d.file("c.img");
		{
			auto c = Carveout::open(req(path));
			std::memcpy(c->ptr(c->geometry().rmm_base + 0x1000), "payload", 7);
			c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x2000, .size = 0x2000, .id = 1});
		}
	}
	// Corrupt the file, then check it is refused for the right reason and left byte-for-byte alone.
	void expect_refused(CarveoutRefusal why, CarveoutOpenRequest r)
	{
		const std::string before = test::read_file(path);
		EXPECT_EQ(refusal_of(r), why);
		EXPECT_TRUE(test::read_file(path) == before) << "refused file was modified";
	}
	void poke(uint64_t off, const std::string& bytes)
	{
		int fd = ::open(path.c_str(), O_WRONLY);
		ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(off)), static_cast<ssize_t>(bytes.size()));
		::close(fd);
	}
	TempDir d;
	std::string path;
};

TEST_F(Refusal, BadMagic)
{
	poke(0, "NOTMAGIC");
	expect_refused(CarveoutRefusal::NotCarveout, req(path));
}

TEST_F(Refusal, GarbageFile)
{
	test::write_file(path, std::string(10000, 'x'));
	expect_refused(CarveoutRefusal::NotCarveout, req(path));
}

TEST_F(Refusal, EmptyFile)
{
	test::write_file(path, "");
	expect_refused(CarveoutRefusal::NotCarveout, req(path));
}

TEST_F(Refusal, HeaderChecksum)
{
	poke(offsetof(format::Superblock, rmm_base), std::string("\x01", 1));
	expect_refused(CarveoutRefusal::Corrupt, req(path));
}

TEST_F(Refusal, FutureFormatVersion)
{
	format::Superblock sb{};
	int fd = ::open(path.c_str(), O_RDWR);
	ASSERT_EQ(::pread(fd, &sb, sizeof(sb), 0), static_cast<ssize_t>(sizeof(sb)));
	sb.format_version = 99;
	sb.crc = format::superblock_crc(sb);
	ASSERT_EQ(::pwrite(fd, &sb, sizeof(sb), 0), static_cast<ssize_t>(sizeof(sb)));
	::close(fd);
	expect_refused(CarveoutRefusal::UnsupportedVersion, req(path));
}

TEST_F(Refusal, Truncated)
{
	ASSERT_EQ(::truncate(path.c_str(), 0x300000), 0);
	expect_refused(CarveoutRefusal::Truncated, req(path));
	ASSERT_EQ(::truncate(path.c_str(), 100), 0);
	expect_refused(CarveoutRefusal::Truncated, req(path));
}

TEST_F(Refusal, Extended)
{
	int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
	ASSERT_EQ(::write(fd, "x", 1), 1);
	::close(fd);
	expect_refused(CarveoutRefusal::Truncated, req(path));
}

TEST_F(Refusal, OtherGeometry)
{
	auto r = req(path);
	r.platform = "qemu";
	expect_refused(CarveoutRefusal::GeometryMismatch, r);
	r.platform = "fvp";
	r.overrides.region_slots = 16;
	expect_refused(CarveoutRefusal::GeometryMismatch, r);
	auto r2 = req(path);
	r2.overrides.payload_size = 0x600000;
	expect_refused(CarveoutRefusal::GeometryMismatch, r2);
	// The matching explicit geometry is fine.
	auto ok = req(path);
	ok.platform = "fvp";
	EXPECT_NO_THROW(Carveout::open(ok));
}

TEST_F(Refusal, BothStateCopiesCorrupt)
{
	poke(format::kSuperblockArea + 8, std::string(8, '\xff'));
	poke(format::kSuperblockArea + format::kStateCopySize, "garbage!");
	expect_refused(CarveoutRefusal::Corrupt, req(path));
}

TEST_F(Refusal, ResetRecreatesAForeignFile)
{
	test::write_file(path, std::string(5000, 'z'));
	auto r = req(path);
	r.reset = true;
	auto c = Carveout::open(r);
	EXPECT_TRUE(c->created());
	EXPECT_TRUE(c->log().empty());
	// No temporary files left behind.
	int entries = 0;
	for (auto& e : std::filesystem::directory_iterator(d.path()))
		entries += e.is_regular_file() ? 1 : 0;
	EXPECT_EQ(entries, 1);
}

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
TEST(Carveout, StaleTemporaryFilesOfKilledCreatorsAreRemoved)
{
	TempDir d;
	const auto path = d.file("c.img");
	auto exists = [&](const std::string& name) {
		struct stat st {};
		return ::lstat(d.file(name).c_str(), &st) == 0;
	};
	const std::vector<std::string> stale = {"c.img.new.Ab3xYz", "c.img.new.000000"};
	// Not el3d's pattern exactly, or not for this file: kept.
	const std::vector<std::string> other = {"c.img.new.Ab3xY",  "c.img.new.Ab3xYz1", "c.img.new.Ab3-Yz",
	                                        "d.img.new.Ab3xYz", "c.img.old.Ab3xYz",  "xc.img.new.Ab3xYz",
	                                        "c.img.new."};
	for (const auto& n : stale)
		test::write_file(d.file(n), "stale");
	for (const auto& n : other)
		test::write_file(d.file(n), "other");
	// A creator still at work holds its temporary file locked: kept.
	test::write_file(d.file("c.img.new.BUSY00"), "busy");
	el3d::UniqueFd busy(::open(d.file("c.img.new.BUSY00").c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_EQ(::flock(busy.get(), LOCK_EX), 0);
	// A symbolic link with a matching name: kept, and its target too.
	test::write_file(d.file("victim"), "precious");
	ASSERT_EQ(::symlink(d.file("victim").c_str(), d.file("c.img.new.Link00").c_str()), 0);
	// A matching file of another user: kept (only checkable as root).
	if (::getuid() == 0) {
		test::write_file(d.file("c.img.new.Other0"), "theirs");
		ASSERT_EQ(::chown(d.file("c.img.new.Other0").c_str(), 12345, 12345), 0);
	}

	{
		auto c = Carveout::open(req(path));  // creates the file
		EXPECT_TRUE(c->created());
		ASSERT_TRUE(c->append(AllocRecord{.addr = c->geometry().rmm_limit - 0x1000, .size = 0x1000, .id = 1}));
	}
	for (const auto& n : stale)
		EXPECT_FALSE(exists(n)) << n;
	for (const auto& n : other)
		EXPECT_EQ(test::read_file(d.file(n)), "other") << n;
	EXPECT_EQ(test::read_file(d.file("c.img.new.BUSY00")), "busy");
	EXPECT_TRUE(exists("c.img.new.Link00"));
	EXPECT_EQ(test::read_file(d.file("victim")), "precious");
	if (::getuid() == 0) {
		EXPECT_EQ(test::read_file(d.file("c.img.new.Other0")), "theirs");
	}

	// Opening an existing file cleans up too, including a second name of the file itself (a
	// creator killed between link() and unlink()); the file under its real name is unharmed.
	test::write_file(d.file("c.img.new.Later0"), "stale");
	ASSERT_EQ(::link(path.c_str(), d.file("c.img.new.Hard00").c_str()), 0);
	{
		auto c = Carveout::open(req(path));
		EXPECT_FALSE(c->created());
		EXPECT_EQ(c->log().size(), 1u);
	}
	EXPECT_FALSE(exists("c.img.new.Later0"));
	EXPECT_FALSE(exists("c.img.new.Hard00"));
	EXPECT_EQ(Carveout::open(req(path))->log().size(), 1u);
	EXPECT_EQ(test::read_file(d.file("c.img.new.BUSY00")), "busy");

	// A refused open touches nothing, temporary files included.
	auto held = Carveout::open(req(path));
	test::write_file(d.file("c.img.new.Kept00"), "stale");
	EXPECT_EQ(refusal_of(req(path)), CarveoutRefusal::Locked);
	EXPECT_TRUE(exists("c.img.new.Kept00"));
}

// Durability::Process flushes nothing, yet every change is in the file's page cache when the call
// returns: a process that dies right after (here _exit, which runs no destructor and no msync, as
// kill -9) leaves all of it to the next opener.
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
