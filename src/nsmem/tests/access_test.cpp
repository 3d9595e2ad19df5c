// NsMemory::read / write / window_of: physical addresses of the Non-secure windows, through the file.
#include "el3d/nsmem/nsmem.hpp"

#include "tempdir.hpp"

#include <gtest/gtest.h>

using namespace el3d;

TEST(NsMemoryAccess, ReadsAndWritesByPhysicalAddressInsideOneWindowOnly)
{
	el3d::test::TempDir dir;
	CarveoutOpenRequest r;
	r.path = dir.file("c.img");
	auto c = Carveout::open(r);
	auto ns = NsMemory::open(*c, {});
	ASSERT_GE(ns->windows().size(), 2u);
	const NsWindow w = ns->windows()[1];
	const uint8_t data[] = {1, 2, 3, 4, 5};
	EXPECT_TRUE(ns->write(w.base + 0x1ffe, data, sizeof(data)));
	std::vector<uint8_t> out;
	EXPECT_TRUE(ns->read(w.base + 0x1ffe, sizeof(data), out));
	EXPECT_EQ(out, std::vector<uint8_t>(data, data + sizeof(data)));
	EXPECT_EQ(ns->window_of(w.base, w.size), &ns->windows()[1]);
	// Outside every window, across a window's end, and empty: refused, nothing done.
	EXPECT_EQ(ns->window_of(w.end() - 4, 8), nullptr);
	EXPECT_FALSE(ns->write(w.end() - 4, data, sizeof(data)));
	EXPECT_FALSE(ns->read(c->geometry().rmm_base, 8, out));
	EXPECT_EQ(ns->window_of(w.base, 0), nullptr);
	EXPECT_EQ(ns->window_of(~0ull - 2, 8), nullptr);
	// The bytes are in the file: a reopen (of the carveout too: a carveout created by this open
	// recreates its NS file) reads them back.
	ns.reset();
	c.reset();
	c = Carveout::open(r);
	ns = NsMemory::open(*c, {});
	EXPECT_TRUE(ns->read(w.base + 0x1ffe, sizeof(data), out));
	EXPECT_EQ(out[4], 5);
}
