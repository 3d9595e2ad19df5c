#include "el3d/gpt/gpt.hpp"

#include "tempdir.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace el3d;
using el3d::test::TempDir;

class GptTest : public ::testing::Test {
protected:
	void SetUp() override { open(); }
	void open(const char* platform = nullptr)
	{
		gpt.reset();
		carveout.reset();
		CarveoutOpenRequest r;
		r.path = d.file("c.img");
		if (platform) {
			r.platform = platform;
			r.reset = true;
		}
		carveout = Carveout::open(r);
		gpt = std::make_unique<Gpt>(*carveout);
	}
	TempDir d;
	std::unique_ptr<Carveout> carveout;
	std::unique_ptr<Gpt> gpt;
	static constexpr uint64_t kDram = 0x80000000;  // FVP DRAM bank 0
};

TEST_F(GptTest, InitialPasFollowsTheLayout)
{
	EXPECT_EQ(gpt->lookup(kDram), Gpi::NonSecure);
	EXPECT_EQ(gpt->lookup(0xFDC00000), Gpi::Realm);         // the carveout
	EXPECT_EQ(gpt->lookup(0xFFBFF000), Gpi::Realm);         // the shared page
	EXPECT_EQ(gpt->lookup(0x880000000 + 0x1000), Gpi::NonSecure);
	EXPECT_EQ(gpt->lookup(0x10000000), std::nullopt);       // not tracked
	auto c = gpt->counts();
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000);
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::NonSecure)], (0x7C000000u + 0x80000000u) / 0x1000);
}

TEST_F(GptTest, DelegateUndelegateRoundTrip)
{
	EXPECT_EQ(gpt->delegate(kDram + 0x5000), Gpt::Result::Ok);
	EXPECT_EQ(gpt->lookup(kDram + 0x5000), Gpi::Realm);
	EXPECT_EQ(gpt->lookup(kDram + 0x4000), Gpi::NonSecure);  // neighbours untouched (same byte)
	EXPECT_EQ(gpt->lookup(kDram + 0x6000), Gpi::NonSecure);
	EXPECT_EQ(gpt->delegate(kDram + 0x5000), Gpt::Result::BadPas);  // already Realm
	EXPECT_EQ(gpt->undelegate(kDram + 0x5000), Gpt::Result::Ok);
	EXPECT_EQ(gpt->undelegate(kDram + 0x5000), Gpt::Result::BadPas);  // already NS
	EXPECT_EQ(gpt->lookup(kDram + 0x5000), Gpi::NonSecure);
}

TEST_F(GptTest, BadAddrCasesInTfaOrder)
{
	EXPECT_EQ(gpt->delegate(kDram + 1), Gpt::Result::BadAddr);            // misaligned
	EXPECT_EQ(gpt->delegate(uint64_t{1} << 40), Gpt::Result::BadAddr);   // outside the PA space
	EXPECT_EQ(gpt->delegate((uint64_t{1} << 40) - 0x1000), Gpt::Result::BadAddr);  // last granule
	EXPECT_EQ(gpt->delegate(0x10000000), Gpt::Result::BadAddr);           // block-mapped
	EXPECT_EQ(gpt->undelegate(0x10000001), Gpt::Result::BadAddr);         // misaligned before PAS
}

TEST_F(GptTest, PreMarkedRangesRefuseDelegation)
{
	gpt->set_range(kDram + 0x100000, 0x10000, Gpi::SecureOnly);
	gpt->set_range(kDram + 0x200000, 0x1000, Gpi::Root);
	EXPECT_EQ(gpt->delegate(kDram + 0x100000), Gpt::Result::BadPas);
	EXPECT_EQ(gpt->delegate(kDram + 0x10f000), Gpt::Result::BadPas);
	EXPECT_EQ(gpt->delegate(kDram + 0x110000), Gpt::Result::Ok);
	EXPECT_EQ(gpt->undelegate(kDram + 0x200000), Gpt::Result::BadPas);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::SecureOnly)], 0x1C00000u / 0x1000 + 16);  // FVP's TZC Secure + 16
	EXPECT_THROW(gpt->set_range(kDram + 1, 0x1000, Gpi::Root), std::invalid_argument);
	EXPECT_THROW(gpt->set_range(0x10000000, 0x1000, Gpi::Root), std::invalid_argument);
}

TEST_F(GptTest, StatePersistsAndResets)
{
	ASSERT_EQ(gpt->delegate(kDram + 0x3000), Gpt::Result::Ok);
	gpt->set_range(kDram + 0x8000, 0x2000, Gpi::Root);
	open();
	EXPECT_EQ(gpt->lookup(kDram + 0x3000), Gpi::Realm);
	EXPECT_EQ(gpt->lookup(kDram + 0x9000), Gpi::Root);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000 + 1);
	carveout->reset({});
	gpt->reload();
	EXPECT_EQ(gpt->lookup(kDram + 0x3000), Gpi::NonSecure);
	EXPECT_EQ(gpt->lookup(kDram + 0x9000), Gpi::NonSecure);
}

TEST_F(GptTest, ConcurrentCallersNeverLoseATransition)
{
	// Four threads toggle interleaved granules that share bytes of the map.
	std::vector<std::thread> t;
	for (int k = 0; k < 4; ++k)
		t.emplace_back([&, k] {
			for (int round = 0; round < 50; ++round)
				for (uint64_t g = static_cast<uint64_t>(k); g < 64; g += 4) {
					ASSERT_EQ(gpt->delegate(kDram + g * 0x1000), Gpt::Result::Ok);
					if (round != 49) {
						ASSERT_EQ(gpt->undelegate(kDram + g * 0x1000), Gpt::Result::Ok);
					}
				}
		});
	for (auto& th : t)
		th.join();
	for (uint64_t g = 0; g < 64; ++g)
		EXPECT_EQ(gpt->lookup(kDram + g * 0x1000), Gpi::Realm);
}

TEST_F(GptTest, QemuCarveoutInsideDramIsRealm)
{
	open("qemu");
	EXPECT_EQ(gpt->lookup(0x40000000), Gpi::NonSecure);
	EXPECT_EQ(gpt->lookup(0x40100000), Gpi::Realm);
	EXPECT_EQ(gpt->delegate(0x40100000), Gpt::Result::BadPas);
	EXPECT_EQ(gpt->delegate(0x41900000), Gpt::Result::Ok);
}

TEST(GpiNames, RoundTrip)
{
	for (const char* n : {"ns", "realm", "secure", "root", "no-access", "nso", "any"})
		EXPECT_STREQ(gpi_name(*gpi_from_name(n)), n);
	EXPECT_FALSE(gpi_from_name("bogus"));
}

TEST_F(GptTest, FvpTzcSecureAndEl3RootAreGranuleMappedAndFixed)
{
	EXPECT_EQ(gpt->lookup(0xFC000000), Gpi::SecureOnly);
	EXPECT_EQ(gpt->lookup(0xFDBFF000), Gpi::SecureOnly);
	EXPECT_EQ(gpt->lookup(0xFFC00000), Gpi::Root);  // EL3's TZC DRAM
	EXPECT_EQ(gpt->lookup(0xFFFFF000), Gpi::Root);  // the L1 GPT
	EXPECT_EQ(gpt->lookup(0x100000000), std::nullopt);
	for (uint64_t pa : {0xFC000000ull, 0xFDBFF000ull, 0xFFC00000ull, 0xFFFFF000ull}) {
		EXPECT_EQ(gpt->delegate(pa), Gpt::Result::BadPas) << std::hex << pa;
		EXPECT_EQ(gpt->undelegate(pa), Gpt::Result::BadPas) << std::hex << pa;
	}
	EXPECT_EQ(gpt->delegate(0xFC000800), Gpt::Result::BadAddr);  // alignment is checked first
	auto c = gpt->counts();
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::SecureOnly)], 0x1C00000u / 0x1000);
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::Root)], 0x400000u / 0x1000);
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000);
	EXPECT_EQ(gpt->fixed_ranges().size(), 2u);
}

TEST_F(GptTest, FixedRangesAreNotPartOfTheFile)
{
	// The file stores the map of DRAM and the carveout only, exactly as before the fixed ranges
	// existed, so carveout files made by earlier el3d versions keep their header and map.
	EXPECT_EQ(carveout->gpt_ranges().size(), 3u);
	EXPECT_EQ(carveout->gpt_map_size(), 0x7F000u);  // (0x7C000 + 0x2000 + 0x80000) granules / 2
	ASSERT_EQ(gpt->delegate(kDram), Gpt::Result::Ok);
	open();
	EXPECT_EQ(gpt->lookup(kDram), Gpi::Realm);
	EXPECT_EQ(gpt->lookup(0xFC000000), Gpi::SecureOnly);
}

TEST_F(GptTest, FixedRangesCanOnlyBePreMarkedWithTheirOwnPas)
{
	EXPECT_NO_THROW(gpt->set_range(0xFC000000, 0x10000, Gpi::SecureOnly));  // what it is: nothing changes
	EXPECT_NO_THROW(gpt->check_range(0xFFC00000, 0x400000, Gpi::Root));
	EXPECT_THROW(gpt->set_range(0xFC000000, 0x1000, Gpi::NonSecure), std::invalid_argument);
	EXPECT_THROW(gpt->set_range(0xFFC00000, 0x1000, Gpi::SecureOnly), std::invalid_argument);
	EXPECT_THROW(gpt->check_range(0xFBFFF000, 0x2000, Gpi::SecureOnly), std::invalid_argument);  // straddles DRAM
	EXPECT_NO_THROW(gpt->check_range(kDram, 0x1000, Gpi::SecureOnly));
	EXPECT_EQ(gpt->lookup(kDram), Gpi::NonSecure);  // a check changes nothing
	auto c = gpt->counts();
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::SecureOnly)], 0x1C00000u / 0x1000);
}
