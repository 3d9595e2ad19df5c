#include "el3d/carveout/carveout.hpp"

#include "../src/format.hpp"
#include "tempdir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
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
