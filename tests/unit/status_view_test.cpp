#include "commands.hpp"
#include "status_view.hpp"

#include <gtest/gtest.h>

using namespace el3d;
using namespace el3d::cli;

TEST(El3ctlParse, RegistersAcceptHexDecimalAndNegative)
{
	EXPECT_EQ(parse_register("0xC40001B7"), 0xC40001B7u);
	EXPECT_EQ(parse_register("4096"), 4096u);
	EXPECT_EQ(parse_register("-1"), UINT64_MAX);
	EXPECT_EQ(parse_register("-7"), static_cast<uint64_t>(-7));
	EXPECT_EQ(parse_register("-9223372036854775808"), uint64_t{1} << 63);
	EXPECT_FALSE(parse_register("-9223372036854775809"));
	EXPECT_FALSE(parse_register("x"));
}

TEST(El3ctlView, RegistersLine)
{
	v1::SmcResponse r;
	r.set_x0(1);
	r.set_x1(0xffbfe000);
	r.set_x7(UINT64_MAX);
	EXPECT_EQ(registers_line(r),
	          "x0=0x0000000000000001 x1=0x00000000ffbfe000 x2=0x0000000000000000 x3=0x0000000000000000 "
	          "x4=0x0000000000000000 x5=0x0000000000000000 x6=0x0000000000000000 x7=0xffffffffffffffff");
}

TEST(El3ctlView, HexdumpLayout)
{
	EXPECT_EQ(hexdump(0x10, std::string("AB\x01", 3)), "0000000000000010  41 42 01                                          |AB.|\n");
}

namespace {
// A 1 MiB carveout at 1 MiB with nothing allocated; payload_limit as given.
v1::State small_carveout(uint64_t payload_limit)
{
	v1::State s;
	s.set_platform("fvp");
	s.set_rmm_base(0x100000);
	s.set_rmm_limit(0x200000);
	s.set_shared_base(0x200000);
	s.set_shared_size(0x1000);
	s.set_payload_limit(payload_limit);
	s.set_top(0x200000);
	return s;
}

std::string bar_of(const std::string& text)
{
	const auto open = text.find("  [");
	const auto close = text.find("S]", open);
	return open == std::string::npos || close == std::string::npos ? "" : text.substr(open + 3, close - open - 3);
}
}  // namespace

TEST(El3ctlView, TextMapShowsGapsAndBar)
{
	v1::State s = small_carveout(0x140000);
	s.set_top(0x1f0000);
	auto* r = s.add_regions();
	r->set_id(1);
	r->set_address(0x1ff000);
	r->set_size(0x800);
	auto* u = s.add_regions();
	u->set_address(0x1f0000);
	u->set_size(0x1000);
	const std::string text = state_text(s, 17);
	EXPECT_NE(text.find("0x00000000001ff800       2 KiB  (alignment gap)"), std::string::npos) << text;
	EXPECT_NE(text.find("0x00000000001ff000       2 KiB  region id 1"), std::string::npos) << text;
	EXPECT_NE(text.find("0x00000000001f0000       4 KiB  untagged"), std::string::npos) << text;
	EXPECT_NE(text.find("[PPPP...........#S]"), std::string::npos) << text;
	auto j = state_json(s);
	EXPECT_EQ(j["regions"][1]["addr"], 0x1f0000u);
	EXPECT_EQ(j["free"], 0x1f0000u - 0x140000u);
}


TEST(El3ctlView, ZeroPayloadDrawsNoPayload)
{
	// --payload-size 0: the whole carveout is allocatable.
	auto s = small_carveout(0x100000);
	EXPECT_EQ(bar_of(state_text(s, 17)), "................");
	// One granule of payload fills the first cell only; a payload ending on a cell boundary
	// exactly fills its cells.
	EXPECT_EQ(bar_of(state_text(small_carveout(0x101000), 17)), "P...............");
	EXPECT_EQ(bar_of(state_text(small_carveout(0x120000), 17)), "PP..............");
	// A region next to the empty payload is drawn where it is.
	auto* r = s.add_regions();
	r->set_id(1);
	r->set_address(0x100000);
	r->set_size(0x10000);
	s.set_top(0x100000);
	EXPECT_EQ(bar_of(state_text(s, 17)), "#...............");
}

TEST(El3ctlView, ZeroSizeTaggedRequestIsNotShownAsATaggedRegion)
{
	// What the core records for `alloc --size 0 --align-bits 16 --id 1` then `--size 4K --id 2`:
	// the size-0 request moves the top down to its alignment but claims no tag.
	auto s = small_carveout(0x140000);
	auto* z = s.add_regions();
	z->set_id(1);
	z->set_address(0x1f0000);
	z->set_size(0);
	z->set_align_bits(16);
	auto* t = s.add_regions();
	t->set_id(2);
	t->set_address(0x1ef000);
	t->set_size(0x1000);
	auto* u = s.add_regions();
	u->set_address(0x1ee000);
	u->set_size(0x1000);
	auto* zu = s.add_regions();
	zu->set_address(0x1ee000);
	zu->set_size(0);
	s.set_top(0x1ee000);
	const std::string text = state_text(s, 17);
	EXPECT_NE(text.find("0x00000000001f0000      64 KiB  (alignment gap)"), std::string::npos) << text;
	EXPECT_NE(text.find("0x00000000001f0000         0 B  size 0 with id 1, tag not claimed  (cpu 0, activation 0, "
	                    "align 2^16)"),
	          std::string::npos)
	    << text;
	EXPECT_EQ(text.find("region id 1"), std::string::npos) << text;
	EXPECT_NE(text.find("0x00000000001ef000       4 KiB  region id 2"), std::string::npos) << text;
	EXPECT_NE(text.find("0x00000000001ee000         0 B  size 0, untagged"), std::string::npos) << text;
	EXPECT_NE(text.find("4 allocations (1 tagged, 1 untagged, 2 of size 0), 8 KiB allocated"), std::string::npos)
	    << text;
	auto j = state_json(s);
	EXPECT_EQ(j["regions"][0]["id"], 1);
	EXPECT_EQ(j["regions"][0]["claims_tag"], false);
	EXPECT_EQ(j["regions"][1]["claims_tag"], true);
	EXPECT_EQ(j["regions"][2]["claims_tag"], false);
}

TEST(El3ctlView, JsonCarriesTheBootConfiguration)
{
	auto s = small_carveout(0x140000);
	// An object, not the text el3d sends, and its hex strings are numbers like the rest of the document.
	s.set_boot_config(R"({"manifest":{"dram":[{"base":"0x80000000","size":"0x1000"}],"consoles":[{"name":"0xname"}]}})");
	const auto j = state_json(s)["boot_config"];
	ASSERT_TRUE(j.is_object()) << j.dump();
	EXPECT_EQ(j["manifest"]["dram"][0]["base"], 0x80000000u);
	EXPECT_EQ(j["manifest"]["dram"][0]["size"], 0x1000u);
	EXPECT_EQ(j["manifest"]["consoles"][0]["name"], "0xname");  // not a number: left as it is
	s.set_boot_config("not json");
	EXPECT_EQ(state_json(s)["boot_config"], "not json");
}

TEST(El3ctlView, OneAllocationIsSingular)
{
	auto s = small_carveout(0x140000);
	auto* r = s.add_regions();
	r->set_address(0x1ff000);
	r->set_size(0x1000);
	r->set_id(1);
	s.set_top(0x1ff000);
	EXPECT_NE(state_text(s).find("  1 allocation (1 tagged, 0 untagged)"), std::string::npos) << state_text(s);
}

TEST(El3ctlView, NsMemoryFileAndWindowsInTextAndJson)
{
	v1::State s = small_carveout(0x100000);
	EXPECT_TRUE(state_json(s)["ns_memory"].is_null());  // a daemon that backs none
	EXPECT_EQ(state_text(s).find("NS memory"), std::string::npos);
	auto* ns = s.mutable_ns_memory();
	ns->set_path("/state/c.img.ns");
	ns->set_id("00112233445566778899aabbccddeeff");
	ns->set_carveout_id("ffeeddccbbaa99887766554433221100");
	auto* w = ns->add_windows();
	w->set_base(0x80000000);
	w->set_size(0x7C000000);
	w->set_file_offset(0x200000);
	w = ns->add_windows();
	w->set_base(0x4000000000);
	w->set_size(0xC0000000);
	w->set_file_offset(0x7C200000);
	const std::string text = state_text(s);
	EXPECT_NE(text.find("NS memory file /state/c.img.ns (2 windows, 4.94 GiB)"), std::string::npos) << text;
	EXPECT_NE(text.find("[0x0000000080000000, 0x00000000fc000000)    1.94 GiB  file offset 0x200000"), std::string::npos)
	    << text;
	EXPECT_NE(text.find("[0x0000004000000000, 0x00000040c0000000)       3 GiB  file offset 0x7c200000"), std::string::npos)
	    << text;
	const auto j = state_json(s)["ns_memory"];
	EXPECT_EQ(j["path"], "/state/c.img.ns");
	EXPECT_EQ(j["id"], "00112233445566778899aabbccddeeff");
	EXPECT_EQ(j["carveout_id"], "ffeeddccbbaa99887766554433221100");
	ASSERT_EQ(j["windows"].size(), 2u);
	EXPECT_EQ(j["windows"][1]["base"], 0x4000000000u);
	EXPECT_EQ(j["windows"][1]["size"], 0xC0000000u);
	EXPECT_EQ(j["windows"][1]["file_offset"], 0x7C200000u);
}
