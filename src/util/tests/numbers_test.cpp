#include "el3d/util/numbers.hpp"

#include <gtest/gtest.h>

using namespace el3d;

TEST(Numbers, ParsesDecimalHexAndBinarySuffixes)
{
	EXPECT_EQ(parse_u64("4096"), 4096u);
	EXPECT_EQ(parse_u64("0x800000"), 0x800000u);
	EXPECT_EQ(parse_u64("0XfF"), 255u);
	EXPECT_EQ(parse_u64("4K"), 4096u);
	EXPECT_EQ(parse_u64("8M"), 8u << 20);
	EXPECT_EQ(parse_u64("1G"), 1u << 30);
	EXPECT_EQ(parse_u64("0x10T"), 16ull << 40);
	EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
}

TEST(Numbers, RejectsGarbageAndOverflow)
{
	EXPECT_FALSE(parse_u64(""));
	EXPECT_FALSE(parse_u64("0x"));
	EXPECT_FALSE(parse_u64("12z"));
	EXPECT_FALSE(parse_u64("-1"));
	EXPECT_FALSE(parse_u64("18446744073709551616"));
	EXPECT_FALSE(parse_u64("0x100000000000T"));
	EXPECT_FALSE(parse_u64("K"));
}

TEST(Numbers, HexRoundTrip)
{
	const uint8_t bytes[] = {0x00, 0xde, 0xad, 0xBE, 0xef, 0x7f};
	EXPECT_EQ(to_hex(bytes, sizeof(bytes)), "00deadbeef7f");
	auto back = from_hex("00DEadbeef7F");
	ASSERT_TRUE(back);
	EXPECT_EQ(*back, std::vector<uint8_t>(bytes, bytes + sizeof(bytes)));
	EXPECT_EQ(from_hex("0x0102"), (std::vector<uint8_t>{1, 2}));
	EXPECT_FALSE(from_hex("abc"));
	EXPECT_FALSE(from_hex("zz"));
	EXPECT_EQ(from_hex(""), std::vector<uint8_t>{});
}

TEST(Numbers, Formatting)
{
	EXPECT_EQ(hex64(0xfdc00000), "0x00000000fdc00000");
	EXPECT_EQ(hex(0xfdc00000), "0xfdc00000");
	EXPECT_EQ(human_size(4096), "4 KiB");
	EXPECT_EQ(human_size(32u << 20), "32 MiB");
	EXPECT_EQ(human_size(1536u << 20), "1.50 GiB");
	EXPECT_EQ(human_size(100), "100 B");
}
