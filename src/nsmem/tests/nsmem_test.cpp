#include "el3d/nsmem/nsmem.hpp"

#include "el3d/util/crc.hpp"
#include "el3d/util/fd.hpp"
#include "el3d/util/numbers.hpp"
#include "sparse_file.hpp"
#include "tempdir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

using namespace el3d;
using el3d::test::disk_usage;
using el3d::test::sparse_digest;
using el3d::test::TempDir;

namespace {

std::unique_ptr<Carveout> carveout(const std::string& path, bool reset = false, const char* platform = nullptr)
{
	CarveoutOpenRequest r;
	r.path = path;
	r.reset = reset;
	if (platform != nullptr)
		r.platform = platform;
	return Carveout::open(r);
}

std::unique_ptr<NsMemory> ns(const Carveout& c, const std::string& path = "", bool reset = false)
{
	return NsMemory::open(c, {path, reset});
}

NsRefusal refusal_of(const Carveout& c, const std::string& path)
{
	try {
		ns(c, path);
	} catch (const NsMemoryError& e) {
		return e.refusal();
	}
	ADD_FAILURE() << "open unexpectedly succeeded";
	return NsRefusal::Io;
}

void poke(const std::string& path, uint64_t off, const void* data, std::size_t n)
{
	UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
	ASSERT_TRUE(fd.valid());
	write_exact(fd.get(), data, n, off, "poke");
}

uint64_t peek64(const std::string& path, uint64_t off)
{
	uint64_t v = 0;
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	read_exact(fd.get(), &v, sizeof(v), off, "peek");
	return v;
}

// Rewrite a header field and its CRC (bytes 0..507, CRC at 508), as a file from another el3d would have it.
void rewrite_header(const std::string& path, uint64_t off, const void* data, std::size_t n)
{
	poke(path, off, data, n);
	uint8_t h[512];
	UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
	read_exact(fd.get(), h, sizeof(h), 0, "header");
	const uint32_t crc = crc32(h, 508);
	write_exact(fd.get(), &crc, sizeof(crc), 508, "crc");
}

}  // namespace

TEST(NsLayout, WindowsPerPlatform)
{
	auto layout = [](const char* p) { return ns_layout(make_geometry(*find_platform(p), {})); };
	const auto fvp = layout("fvp");
	ASSERT_EQ(fvp.size(), 4u);
	EXPECT_EQ(fvp[0], (NsWindow{0x50000000, 0x10000000, 0x200000}));    // PCIe window 1
	EXPECT_EQ(fvp[1], (NsWindow{0x80000000, 0x7C000000, 0x10200000}));  // DRAM bank 0 (the carveout lies above it)
	EXPECT_EQ(fvp[2].base, 0x880000000u);                                 // DRAM bank 1
	EXPECT_EQ(fvp[3], (NsWindow{0x4000000000, 0xC0000000, fvp[2].file_offset + 0x80000000}));  // PCIe window 2
	const auto qemu = layout("qemu");  // DRAM minus the carveout [0x40100000, 0x41900000), no device windows
	ASSERT_EQ(qemu.size(), 2u);
	EXPECT_EQ(qemu[0], (NsWindow{0x40000000, 0x100000, 0x200000}));
	EXPECT_EQ(qemu[1].base, 0x41900000u);
	EXPECT_EQ(qemu[1].end(), 0x100000000u);
	EXPECT_EQ(qemu[1].file_offset, 0x400000u);
	const auto sbsa = layout("qemu-sbsa");
	ASSERT_EQ(sbsa.size(), 3u);
	EXPECT_EQ(sbsa[0].base, 0x80000000u);
	EXPECT_EQ(sbsa[1].base, 0x100000000u);
	EXPECT_EQ(sbsa[2], (NsWindow{0x10043000000, 0x100000000, sbsa[1].file_offset + 0x280000000}));
	for (const auto* w : {&fvp, &qemu, &sbsa})
		for (std::size_t i = 0; i < w->size(); ++i) {
			EXPECT_EQ((*w)[i].file_offset % kNsWindowAlign, 0u);
			if (i > 0) {
				EXPECT_GE((*w)[i].base, (*w)[i - 1].end());
				EXPECT_GE((*w)[i].file_offset, (*w)[i - 1].file_offset + (*w)[i - 1].size);
			}
		}
}

TEST(NsLayout, CoversEveryNonSecureGptRangeAndNeverTheCarveout)
{
	for (const auto& p : platform_profiles()) {
		GeometryOverrides o;
		if (p.name == "fvp") {  // a carveout moved into the first PCIe window is cut out of it
			o.rmm_base = 0x54000000;
			o.rmm_size = 0x1000000;
		}
		const Geometry g = make_geometry(p, o);
		const auto w = ns_memory_ranges(g);
		for (const GptRange& r : gpt_layout(g)) {
			if (r.initial != Gpi::NonSecure)
				continue;
			EXPECT_TRUE(std::any_of(w.begin(), w.end(), [&](const MemRange& m) { return m.base <= r.base && r.end() <= m.end(); }))
			    << p.name << " " << hex(r.base);
		}
		for (const MemRange& m : w)
			EXPECT_TRUE(m.end() <= g.rmm_base || m.base >= g.image_end()) << p.name << " " << hex(m.base);
	}
	GeometryOverrides o{.rmm_base = 0x54000000, .rmm_size = 0x1000000};
	const auto w = ns_memory_ranges(make_geometry(*find_platform("fvp"), o));
	EXPECT_EQ(w[0], (MemRange{0x50000000, 0x4000000}));
	EXPECT_EQ(w[1], (MemRange{0x55001000, 0x60000000 - 0x55001000}));
}

TEST(NsMemory, CreatedSparseBesideTheCarveoutWithItsHeader)
{
	TempDir d;
	auto c = carveout(d.file("c.img"));
	auto m = ns(*c);
	EXPECT_TRUE(m->created());
	EXPECT_EQ(m->path(), d.file("c.img.ns"));
	EXPECT_EQ(m->windows(), ns_layout(c->geometry()));
	EXPECT_EQ(std::filesystem::file_size(m->path()), m->windows().back().file_offset + m->windows().back().size);
	EXPECT_GT(m->file_size(), 7ull << 30);
	EXPECT_LE(disk_usage(m->path()), 64u * 1024) << "only the header page is written";
	uint8_t ids[32];
	char magic[9] = {};
	UniqueFd fd(::open(m->path().c_str(), O_RDONLY | O_CLOEXEC));
	read_exact(fd.get(), magic, 8, 0, "magic");
	EXPECT_STREQ(magic, "EL3DNSMM");
	read_exact(fd.get(), ids, sizeof(ids), 16, "ids");
	EXPECT_EQ(to_hex(ids, 16), m->id_string());
	EXPECT_EQ(to_hex(ids + 16, 16), c->uuid_string());  // tied to its carveout
	EXPECT_NE(m->id_string(), c->uuid_string());
	const NsMemoryInfo info = m->info();
	EXPECT_EQ(info.id, m->id_string());
	EXPECT_EQ(info.carveout_id, c->uuid_string());
}

TEST(NsMemory, ReopenKeepsIdAndContent)
{
	TempDir d;
	std::string id;
	uint64_t off = 0;
	{
		auto c = carveout(d.file("c.img"));
		auto m = ns(*c);
		id = m->id_string();
		off = m->windows()[1].file_offset + 0x12345000;
		const uint64_t v = 0xfeedfacecafebeef;
		poke(m->path(), off, &v, sizeof(v));
	}
	auto c = carveout(d.file("c.img"));
	auto m = ns(*c);
	EXPECT_FALSE(m->created());
	EXPECT_EQ(m->id_string(), id);
	EXPECT_EQ(peek64(m->path(), off), 0xfeedfacecafebeefull);
	// --ns-memory: another file for the same carveout, created beside whatever path it names.
	auto other = ns(*c, d.file("elsewhere.ns"));
	EXPECT_TRUE(other->created());
	EXPECT_NE(other->id_string(), id);
}

TEST(NsMemory, RefusedFilesAreLeftUntouched)
{
	TempDir d;
	std::string a_ns;
	{
		auto a = carveout(d.file("a.img"));
		a_ns = ns(*a)->path();
		const uint64_t v = 42;
		poke(a_ns, 0x10000000, &v, sizeof(v));
	}
	carveout(d.file("b.img"));
	auto b = carveout(d.file("b.img"));  // exists: not created by this open
	ASSERT_FALSE(b->created());

	auto check = [&](const std::string& path, NsRefusal want, const char* what) {
		const std::string before = sparse_digest(path);
		try {
			ns(*b, path);
			ADD_FAILURE() << what << ": opened";
		} catch (const NsMemoryError& e) {
			EXPECT_EQ(e.refusal(), want) << what << ": " << e.what();
			EXPECT_NE(std::string(e.what()).find("refusing to touch it"), std::string::npos) << e.what();
		}
		EXPECT_EQ(sparse_digest(path), before) << what;
	};
	check(a_ns, NsRefusal::Foreign, "another carveout's file");
	try {
		ns(*b, a_ns);
	} catch (const NsMemoryError& e) {
		EXPECT_NE(std::string(e.what()).find("belongs to another carveout file"), std::string::npos) << e.what();
	}
	// A carveout file created just now does not take over a foreign file given by path either.
	{
		auto fresh = carveout(d.file("f.img"));
		ASSERT_TRUE(fresh->created());
		const std::string before = sparse_digest(a_ns);
		EXPECT_EQ(refusal_of(*fresh, a_ns), NsRefusal::Foreign);
		EXPECT_EQ(sparse_digest(a_ns), before);
	}

	// Files of b's own, damaged in each way.
	const std::string p = d.file("b.img.ns");
	auto make = [&] {
		std::filesystem::remove(p);
		ns(*b, p);
	};
	make();
	const char bad_magic[8] = {'N', 'O', 'T', 'N', 'S', 'M', 'E', 'M'};
	poke(p, 0, bad_magic, sizeof(bad_magic));
	check(p, NsRefusal::NotNsFile, "bad magic");
	make();
	const char flip = 'X';
	poke(p, 48, &flip, 1);  // platform name, CRC not updated
	check(p, NsRefusal::Corrupt, "header checksum");
	make();
	const uint32_t v2 = 2;
	rewrite_header(p, 8, &v2, sizeof(v2));
	check(p, NsRefusal::UnsupportedVersion, "version 2");
	make();
	const uint64_t smaller = 0x8000000;  // window 0 (256 MiB at 0x50000000) laid out as 128 MiB
	rewrite_header(p, 104 + 8, &smaller, sizeof(smaller));
	check(p, NsRefusal::Layout, "another window table");
	make();
	const char qemu[32] = "qemu";
	rewrite_header(p, 48, qemu, sizeof(qemu));
	check(p, NsRefusal::Layout, "another platform");
	make();
	poke(p, 0x800, &flip, 1);
	check(p, NsRefusal::Corrupt, "epoch record");
	make();
	ASSERT_EQ(::truncate(p.c_str(), 0x100000000), 0);
	check(p, NsRefusal::Truncated, "truncated");
	el3d::test::write_file(p, "");
	check(p, NsRefusal::NotNsFile, "empty");
	std::filesystem::remove(p);
	std::filesystem::create_directory(p);
	EXPECT_EQ(refusal_of(*b, p), NsRefusal::NotNsFile);
}

TEST(NsMemory, ResetZeroesEveryWindowAndGivesTheBlocksBack)
{
	TempDir d;
	auto c = carveout(d.file("c.img"));
	auto m = ns(*c);
	const uint64_t v = 0x0123456789abcdef;
	std::vector<char> mib(1 << 20, 'x');
	for (const NsWindow& w : m->windows()) {
		poke(m->path(), w.file_offset, mib.data(), mib.size());
		poke(m->path(), w.file_offset + w.size - 8, &v, sizeof(v));
	}
	ASSERT_GE(disk_usage(m->path()), 4u << 20);
	c->reset(nlohmann::json::object());
	m->reset(c->epoch());
	for (const NsWindow& w : m->windows()) {
		EXPECT_EQ(peek64(m->path(), w.file_offset), 0u);
		EXPECT_EQ(peek64(m->path(), w.file_offset + w.size - 8), 0u);
	}
	EXPECT_LE(disk_usage(m->path()), 64u * 1024);
	// Written after the reset: kept by the next open (the file records the carveout's epoch).
	poke(m->path(), m->windows()[0].file_offset, &v, sizeof(v));
	const std::string id = m->id_string();
	m.reset();
	c.reset();
	c = carveout(d.file("c.img"));
	m = ns(*c);
	EXPECT_EQ(m->id_string(), id);
	EXPECT_EQ(peek64(m->path(), m->windows()[0].file_offset), v);
}

TEST(NsMemory, AResetThatDidNotReachTheFileIsFinishedAtTheNextOpen)
{
	TempDir d;
	uint64_t off = 0;
	{
		auto c = carveout(d.file("c.img"));
		auto m = ns(*c);
		off = m->windows()[2].file_offset;
		const uint64_t v = 7;
		poke(m->path(), off, &v, sizeof(v));
		c->reset(nlohmann::json::object());  // committed; el3d "dies" before NsMemory::reset
	}
	auto c = carveout(d.file("c.img"));
	auto m = ns(*c);
	EXPECT_FALSE(m->created());
	EXPECT_EQ(peek64(m->path(), off), 0u);
}

TEST(NsMemory, ARecreatedCarveoutRecreatesItsFile)
{
	TempDir d;
	std::string id;
	uint64_t off = 0;
	const uint64_t v = 99;
	{
		auto c = carveout(d.file("c.img"));
		auto m = ns(*c);
		id = m->id_string();
		off = m->windows()[0].file_offset;
		poke(m->path(), off, &v, sizeof(v));
	}
	{
		auto c = carveout(d.file("c.img"), /*reset=*/true);  // el3d --reset
		auto m = ns(*c, "", true);
		EXPECT_TRUE(m->created());
		EXPECT_NE(m->id_string(), id);
		EXPECT_EQ(peek64(m->path(), off), 0u);
		id = m->id_string();
		poke(m->path(), off, &v, sizeof(v));
	}
	std::filesystem::remove(d.file("c.img"));  // a new carveout file: the old one's NS file beside it is replaced
	auto c = carveout(d.file("c.img"));
	auto m = ns(*c);
	EXPECT_TRUE(m->created());
	EXPECT_NE(m->id_string(), id);
	EXPECT_EQ(peek64(m->path(), off), 0u);
	// --reset replaces a foreign or corrupt file too.
	el3d::test::write_file(d.file("junk.ns"), "junk");
	EXPECT_TRUE(ns(*c, d.file("junk.ns"), true)->created());
}

TEST(NsMemory, StaleTemporaryFilesAreRemoved)
{
	TempDir d;
	auto c = carveout(d.file("c.img"));
	el3d::test::write_file(d.file("c.img.ns.new.AbC123"), "left by a killed creator");
	el3d::test::write_file(d.file("c.img.ns.new.toolong1"), "not our pattern");
	ns(*c);
	EXPECT_FALSE(std::filesystem::exists(d.file("c.img.ns.new.AbC123")));
	EXPECT_TRUE(std::filesystem::exists(d.file("c.img.ns.new.toolong1")));
}
