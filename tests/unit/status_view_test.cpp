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

TEST(El3ctlView, TextMapShowsGapsAndBar)
{
	v1::State s;
	s.set_platform("fvp");
	s.set_rmm_base(0x100000);
	s.set_rmm_limit(0x200000);
	s.set_shared_base(0x200000);
	s.set_shared_size(0x1000);
	s.set_payload_limit(0x140000);
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
