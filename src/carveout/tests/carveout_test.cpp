// Creating, reopening and refusing carveout files.
#include "carveout_test_util.hpp"

using namespace el3d;
using el3d::test::TempDir;
using namespace el3d::test;

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

// A header whose CRC is right but whose areas lie past the file's end, or whose sums wrap around
// 2^64 (found by fuzzing: the open failed reading them, as an I/O error, not as a refusal).
TEST_F(Refusal, AreasOutsideTheFileWithAValidChecksum)
{
	for (int variant = 0; variant < 3; ++variant) {
		format::Superblock sb{};
		int fd = ::open(path.c_str(), O_RDWR);
		ASSERT_EQ(::pread(fd, &sb, sizeof(sb), 0), static_cast<ssize_t>(sizeof(sb)));
		const format::Superblock good = sb;
		if (variant == 0)
			sb.state_copy_size = uint64_t{1} << 63;  // state_offset + 2 * copy wraps to a small number
		else if (variant == 1)
			sb.log_offset = sb.file_size + 0x1000;
		else
			sb.state_copy_size = 0x40000000;  // a 1 GiB state copy: more than el3d ever reads
		sb.crc = format::superblock_crc(sb);
		ASSERT_EQ(::pwrite(fd, &sb, sizeof(sb), 0), static_cast<ssize_t>(sizeof(sb)));
		::close(fd);
		expect_refused(CarveoutRefusal::Corrupt, req(path));
		fd = ::open(path.c_str(), O_RDWR);
		ASSERT_EQ(::pwrite(fd, &good, sizeof(good), 0), static_cast<ssize_t>(sizeof(good)));
		::close(fd);
	}
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
