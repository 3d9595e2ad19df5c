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
	// DRAM and the PCIe windows
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::NonSecure)], (0x7C000000ull + 0x80000000 + 0x10000000 + 0xC0000000) / 0x1000);
	EXPECT_EQ(c[static_cast<unsigned>(Gpi::Any)], (0x10000000u + 0x20000000u) / 0x1000);  // rest of [1 GiB, 2 GiB)
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

// A reopen reads the map only where the file holds data (a reset punches what was used): granules changed in
// pages far apart, at the ends of a page and of a range, all come back, and a reset leaves no data to read.
TEST_F(GptTest, AReopenReadsOnlyTheFilesDataAndAResetPunchesIt)
{
	const auto& ranges = carveout->gpt_ranges();
	std::vector<uint64_t> pas = {kDram, kDram + 0x2000, kDram + 0x1FFE000, kDram + 0x2000000, kDram + 0x40000000};
	const GptRange& last = ranges.back();
	pas.push_back(last.base + last.size - 0x1000);  // the last granule of the last range
	for (uint64_t pa : pas)
		ASSERT_EQ(gpt->delegate(pa), Gpt::Result::Ok) << std::hex << pa;
	const auto before = gpt->counts();
	open();
	EXPECT_EQ(gpt->counts(), before);
	for (uint64_t pa : pas)
		EXPECT_EQ(gpt->lookup(pa), Gpi::Realm) << std::hex << pa;
	EXPECT_EQ(gpt->lookup(kDram + 0x1000), Gpi::NonSecure);  // the other half of kDram's byte

	// Every changed granule is inside what the file reports as data; the rest of the map need not be.
	const uint64_t size = carveout->gpt_map_size();
	const auto extents = carveout->gpt_map_extents(0, size);
	ASSERT_FALSE(extents.empty());
	uint64_t covered = 0, prev = 0;
	for (const auto& [lo, hi] : extents) {
		EXPECT_LE(prev, lo);
		EXPECT_LT(lo, hi);
		EXPECT_LE(hi, size);
		covered += hi - lo;
		prev = hi;
	}
	const bool holes = covered < size;  // a file system that reports holes (tmpfs, ext4, xfs, btrfs)
	std::size_t found = 0;
	for (std::size_t i = 0; i < size; ++i)
		if (carveout->gpt_map()[i] != 0) {
			++found;
			bool inside = false;
			for (const auto& [lo, hi] : extents)
				inside = inside || (i >= lo && i < hi);
			EXPECT_TRUE(inside) << "map byte " << i << " is not in a data extent";
		}
	EXPECT_EQ(found, pas.size());  // no two of them share a byte

	carveout->reset({});
	gpt->reload();
	EXPECT_EQ(gpt->lookup(kDram + 0x2000), Gpi::NonSecure);
	if (holes) {
		EXPECT_TRUE(carveout->gpt_map_extents(0, size).empty()) << "the reset left data in the map";
	}
	open();
	for (uint64_t pa : pas)
		EXPECT_EQ(gpt->lookup(pa), Gpi::NonSecure) << std::hex << pa;
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], before[static_cast<unsigned>(Gpi::Realm)] - pas.size());
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
	EXPECT_EQ(gpt->fixed_ranges().size(), 4u);  // two of GPI any around the 256 MiB PCIe window, Secure, Root
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

// --- The device windows: FVP's PCIe memory, granule-mapped Non-secure as TF-A's GPT maps it --------

constexpr uint64_t kPci1 = 0x50000000, kPci2 = 0x4000000000;

TEST_F(GptTest, DeviceWindowGranulesAreNonSecureAndDelegable)
{
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::NonSecure);
	EXPECT_EQ(gpt->lookup(kPci2 + 0xBFFFF000), Gpi::NonSecure);  // last granule of the 3 GiB window
	EXPECT_EQ(gpt->lookup(kPci2 + 0xC0000000), std::nullopt);    // beyond it: block-mapped
	EXPECT_EQ(gpt->lookup(0x4FFFF000), Gpi::Any);                // same L0 entry as the window, in no PAS region
	EXPECT_EQ(gpt->delegate(kPci1), Gpt::Result::Ok);
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::Realm);
	EXPECT_EQ(gpt->delegate(kPci1), Gpt::Result::BadPas);  // already Realm
	EXPECT_EQ(gpt->set_gpi(kPci1, Gpi::SecureOnly), Gpt::Result::BadPas);
	EXPECT_EQ(gpt->delegate(kPci1 + 8), Gpt::Result::BadAddr);
	EXPECT_EQ(gpt->delegate(kPci2 + 0xBFFFF000), Gpt::Result::Ok);
	EXPECT_EQ(gpt->delegate(kPci2 + 0xC0000000), Gpt::Result::BadAddr);
	EXPECT_EQ(gpt->delegate(0x4FFFF000), Gpt::Result::BadPas);  // GPI any: no Realm-world transition
	EXPECT_EQ(gpt->undelegate(kPci1 + 0x1000), Gpt::Result::BadPas);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000 + 2);
	EXPECT_EQ(gpt->undelegate(kPci1), Gpt::Result::Ok);
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::NonSecure);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000 + 1);
}

TEST_F(GptTest, DeviceWindowDelegationsSurviveReopenAndResetClearsThem)
{
	for (uint64_t pa : {kPci1, kPci1 + 0x1000, kPci1 + 0x2000, kPci1 + 0x5000, kPci2})
		ASSERT_EQ(gpt->delegate(pa), Gpt::Result::Ok);
	ASSERT_EQ(gpt->undelegate(kPci1 + 0x1000), Gpt::Result::Ok);
	EXPECT_EQ(gpt->device_state(), nlohmann::json::parse("[[1342177280,1],[1342185472,1],[1342197760,1],[274877906944,1]]"));
	open();
	for (uint64_t pa : {kPci1, kPci1 + 0x2000, kPci1 + 0x5000, kPci2})
		EXPECT_EQ(gpt->lookup(pa), Gpi::Realm) << std::hex << pa;
	EXPECT_EQ(gpt->lookup(kPci1 + 0x1000), Gpi::NonSecure);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000 + 4);
	carveout->reset({});
	gpt->reload();
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::NonSecure);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000);
}

TEST_F(GptTest, AFileFromBeforeTheDeviceWindowsOpensWithThemNonSecure)
{
	// What an earlier el3d left: a DRAM delegation in the map and a state document without the
	// device key (the map's size never changed, so the file is the same format).
	ASSERT_EQ(gpt->delegate(kDram), Gpt::Result::Ok);
	carveout->commit_state({{"boot", nlohmann::json::object()}, {"mec_refreshes", 3}});
	EXPECT_EQ(carveout->gpt_map_size(), 0x7F000u);
	open();
	EXPECT_EQ(gpt->lookup(kDram), Gpi::Realm);
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::NonSecure);
	ASSERT_EQ(gpt->delegate(kPci1), Gpt::Result::Ok);
	EXPECT_EQ(carveout->state().value("mec_refreshes", 0), 3);  // the rest of the document is kept
	open();
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::Realm);
}

TEST_F(GptTest, DeviceRunsOutsideTheWindowsOrMalformedAreDropped)
{
	carveout->commit_state({{Gpt::kDeviceStateKey,
	                         nlohmann::json::parse("[[1342177280,2],[1342177281,1],[4096,1],\"x\",[1610608640,9]]")}});
	open();
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::Realm);
	EXPECT_EQ(gpt->lookup(kPci1 + 0x1000), Gpi::Realm);
	EXPECT_EQ(gpt->lookup(0x5FFFF000), Gpi::Realm);  // the last granule of the window: a run that leaves it stops there
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000 + 3);
}

TEST_F(GptTest, ADeviceTransitionTheFileRefusesChangesNothing)
{
	carveout->fail_metadata_syncs_for_testing(1);
	EXPECT_ANY_THROW(gpt->delegate(kPci1));
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::NonSecure);
	EXPECT_EQ(gpt->counts()[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000);
	open();
	EXPECT_EQ(gpt->lookup(kPci1), Gpi::NonSecure);
	EXPECT_EQ(gpt->delegate(kPci1), Gpt::Result::Ok);
}

TEST_F(GptTest, DeviceWindowsCannotBePreMarked)
{
	EXPECT_THROW(gpt->check_range(kPci1, 0x1000, Gpi::SecureOnly), std::invalid_argument);
	EXPECT_THROW(gpt->check_range(0x4FFFF000, 0x2000, Gpi::Root), std::invalid_argument);
}

TEST_F(GptTest, QemuSbsaPciWindowsAndFixedRanges)
{
	open("qemu-sbsa");
	EXPECT_EQ(gpt->lookup(0x80000000), Gpi::NonSecure);   // SBSA_PCIE_MMIO
	EXPECT_EQ(gpt->lookup(0x100000000), Gpi::NonSecure);  // SBSA_PCIE_MMIO_HIGH
	EXPECT_EQ(gpt->lookup(0xF0000000), Gpi::Any);         // the ECAM, in the L0 entry of the low window
	EXPECT_EQ(gpt->lookup(0x20008000), Gpi::SecureOnly);
	EXPECT_EQ(gpt->lookup(0x3FFFF000), Gpi::Root);
	EXPECT_EQ(gpt->delegate(0x37FFF000), Gpt::Result::BadPas);  // Root
	EXPECT_EQ(gpt->delegate(0x100000000), Gpt::Result::Ok);
	EXPECT_EQ(gpt->delegate(uint64_t{1} << 42), Gpt::Result::BadAddr);  // the GPT covers 4 TiB
}
