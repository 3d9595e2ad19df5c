#include "el3d/attest/cbor.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

using el3d::attest::cbor::valid_utf8;
using el3d::attest::cbor::Writer;
using Bytes = std::vector<uint8_t>;

// Expected encodings are from RFC 8949 Appendix A where it has them.

TEST(AttestCbor, UnsignedHeadsAreShortest)
{
	EXPECT_EQ(Writer().uint(0).data(), (Bytes{0x00}));
	EXPECT_EQ(Writer().uint(23).data(), (Bytes{0x17}));
	EXPECT_EQ(Writer().uint(24).data(), (Bytes{0x18, 0x18}));
	EXPECT_EQ(Writer().uint(255).data(), (Bytes{0x18, 0xff}));
	EXPECT_EQ(Writer().uint(256).data(), (Bytes{0x19, 0x01, 0x00}));
	EXPECT_EQ(Writer().uint(2402).data(), (Bytes{0x19, 0x09, 0x62}));
	EXPECT_EQ(Writer().uint(65535).data(), (Bytes{0x19, 0xff, 0xff}));
	EXPECT_EQ(Writer().uint(65536).data(), (Bytes{0x1a, 0x00, 0x01, 0x00, 0x00}));
	EXPECT_EQ(Writer().uint(1000000).data(), (Bytes{0x1a, 0x00, 0x0f, 0x42, 0x40}));
	EXPECT_EQ(Writer().uint(0xffffffffu).data(), (Bytes{0x1a, 0xff, 0xff, 0xff, 0xff}));
	EXPECT_EQ(Writer().uint(0x100000000u).data(), (Bytes{0x1b, 0, 0, 0, 1, 0, 0, 0, 0}));
	EXPECT_EQ(Writer().uint(1000000000000u).data(), (Bytes{0x1b, 0x00, 0x00, 0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00}));
	EXPECT_EQ(Writer().uint(UINT64_MAX).data(), (Bytes{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(AttestCbor, SignedIntegers)
{
	EXPECT_EQ(Writer().integer(0).data(), (Bytes{0x00}));
	EXPECT_EQ(Writer().integer(0x3000).data(), (Bytes{0x19, 0x30, 0x00}));
	EXPECT_EQ(Writer().integer(-1).data(), (Bytes{0x20}));
	EXPECT_EQ(Writer().integer(-10).data(), (Bytes{0x29}));
	EXPECT_EQ(Writer().integer(-24).data(), (Bytes{0x37}));
	EXPECT_EQ(Writer().integer(-25).data(), (Bytes{0x38, 0x18}));
	EXPECT_EQ(Writer().integer(-35).data(), (Bytes{0x38, 0x22}));  // COSE ES384
	EXPECT_EQ(Writer().integer(-100).data(), (Bytes{0x38, 0x63}));
	EXPECT_EQ(Writer().integer(-1000).data(), (Bytes{0x39, 0x03, 0xe7}));
	EXPECT_EQ(Writer().integer(std::numeric_limits<int64_t>::min()).data(),
	          (Bytes{0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
	EXPECT_EQ(Writer().integer(std::numeric_limits<int64_t>::max()).data(),
	          (Bytes{0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(AttestCbor, StringsContainersAndTags)
{
	EXPECT_EQ(Writer().bytes({}).data(), (Bytes{0x40}));
	const Bytes four{1, 2, 3, 4};
	EXPECT_EQ(Writer().bytes(four).data(), (Bytes{0x44, 1, 2, 3, 4}));
	EXPECT_EQ(Writer().text("").data(), (Bytes{0x60}));
	EXPECT_EQ(Writer().text("IETF").data(), (Bytes{0x64, 0x49, 0x45, 0x54, 0x46}));
	EXPECT_EQ(Writer().text("\xe6\xb0\xb4").data(), (Bytes{0x63, 0xe6, 0xb0, 0xb4}));  // U+6C34

	// A 24-byte string needs a 1-byte length, a 256-byte one a 2-byte length.
	const Bytes b24(24, 0xaa);
	auto e24 = Writer().bytes(b24).data();
	ASSERT_EQ(e24.size(), 26u);
	EXPECT_EQ(e24[0], 0x58);
	EXPECT_EQ(e24[1], 24);
	const Bytes b256(256, 0xbb);
	auto e256 = Writer().bytes(b256).data();
	ASSERT_EQ(e256.size(), 259u);
	EXPECT_EQ((Bytes{e256[0], e256[1], e256[2]}), (Bytes{0x59, 0x01, 0x00}));

	EXPECT_EQ(Writer().array(0).data(), (Bytes{0x80}));
	EXPECT_EQ(Writer().array(3).uint(1).uint(2).uint(3).data(), (Bytes{0x83, 1, 2, 3}));
	EXPECT_EQ(Writer().array(25).data(), (Bytes{0x98, 0x19}));
	EXPECT_EQ(Writer().map(0).data(), (Bytes{0xa0}));
	EXPECT_EQ(Writer().map(2).uint(1).uint(2).uint(3).uint(4).data(), (Bytes{0xa2, 1, 2, 3, 4}));
	EXPECT_EQ(Writer().tag(18).data(), (Bytes{0xd2}));
	EXPECT_EQ(Writer().tag(399).data(), (Bytes{0xd9, 0x01, 0x8f}));
	EXPECT_EQ(Writer().tag(1).uint(1363896240).data(), (Bytes{0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0}));
	const Bytes pre{0xa1, 0x01, 0x38, 0x22};
	EXPECT_EQ(Writer().array(1).raw(pre).data(), (Bytes{0x81, 0xa1, 0x01, 0x38, 0x22}));
}

TEST(AttestCbor, TakeMovesTheBuffer)
{
	Writer w;
	w.uint(1);
	Bytes out = std::move(w).take();
	EXPECT_EQ(out, (Bytes{0x01}));
}

TEST(AttestCbor, BooleansAndClear)
{
	Writer w;
	w.boolean(false).boolean(true);  // RFC 8949 Appendix A: false 0xf4, true 0xf5
	EXPECT_EQ(w.data(), (Bytes{0xF4, 0xF5}));
	w.clear();
	EXPECT_TRUE(w.data().empty());
	w.array(1).boolean(true);
	EXPECT_EQ(w.data(), (Bytes{0x81, 0xF5}));
}

TEST(AttestCbor, TextMustBeUtf8)
{
	EXPECT_TRUE(valid_utf8(""));
	EXPECT_TRUE(valid_utf8("tag:arm.com,2023:cca_platform#1.0.0"));
	EXPECT_TRUE(valid_utf8("\xc3\xa9"));          // é
	EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));      // €
	EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));  // U+1F600
	EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last code point

	EXPECT_FALSE(valid_utf8("\x80"));              // a continuation byte alone
	EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
	EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated
	EXPECT_FALSE(valid_utf8("\xc3\x28"));          // bad continuation
	EXPECT_FALSE(valid_utf8("\xc0\x80"));          // overlong NUL
	EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong '/'
	EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
	EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
	EXPECT_FALSE(valid_utf8("\xf8\x88\x80\x80\x80"));
	EXPECT_FALSE(valid_utf8("\xff"));

	Writer w;
	EXPECT_THROW(w.text("\xc0\x80"), std::invalid_argument);
	EXPECT_TRUE(w.data().empty());  // nothing half-written
}
