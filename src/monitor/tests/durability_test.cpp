// State changes an SMC or a session makes are durable before it returns, a session end never
// throws, pre-marked GPT ranges are applied once per file (creation or reset), and direct memory
// access is serialised with everything else the monitor does.
#include "el3d/gpt/gpt.hpp"
#include "monitor_fixture.hpp"

#include <sys/resource.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <sstream>
#include <thread>

using namespace el3d;
using el3d::test::MonitorTest;

namespace {

constexpr uint64_t D = 0x80000000;  // FVP DRAM bank 0

// While alive, every write(2) to a regular file of this process fails with EFBIG, so the carveout
// file's state block cannot be committed (the memory-mapped image is not affected).
class FileWritesFail {
public:
	FileWritesFail()
	{
		old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
		EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &old_), 0);
		rlimit lim = old_;
		lim.rlim_cur = 1;
		EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
	}
	~FileWritesFail()
	{
		::setrlimit(RLIMIT_FSIZE, &old_);
		std::signal(SIGXFSZ, old_handler_);
	}

private:
	rlimit old_{};
	void (*old_handler_)(int) = nullptr;
};

// Captures what the core logs while alive.
class LogCapture {
public:
	LogCapture() : old_(spdlog::default_logger())
	{
		auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
		logger->set_level(spdlog::level::debug);
		spdlog::set_default_logger(logger);
	}
	~LogCapture() { spdlog::set_default_logger(old_); }
	std::size_t count(const std::string& needle) const
	{
		const std::string s = out_.str();
		std::size_t n = 0;
		for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1))
			++n;
		return n;
	}

private:
	std::ostringstream out_;
	std::shared_ptr<spdlog::logger> old_;
};

manifest::BootConfig premarks(std::vector<manifest::PasRange> ranges)
{
	manifest::BootConfig c = manifest::default_boot_config("fvp");
	c.gpt = std::move(ranges);
	return c;
}

}  // namespace

class DurabilityTest : public MonitorTest {
protected:
	int64_t delegate(uint64_t pa) { return x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {pa})); }
	int64_t undelegate(uint64_t pa) { return x0(smc(EL3_FID_RMM_GTSI_UNDELEGATE, {pa})); }
	MonitorOptions with_config(const manifest::BootConfig& c)
	{
		MonitorOptions o;
		o.boot_config = c;
		return o;
	}
};

TEST_F(DurabilityTest, MecRefreshCountSurvivesARestart)
{
	EXPECT_EQ(x0(smc(EL3_FID_RMM_MECID_KEY_UPDATE, {5})), EL3_E_RMM_OK);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_MECID_KEY_UPDATE, {6})), EL3_E_RMM_OK);
	open();  // nothing else committed after the second refresh
	EXPECT_EQ(monitor->status().mec_refreshes, 2u);
}

TEST_F(DurabilityTest, MecRefreshThatCannotBeRecordedFailsAndCountsNothing)
{
	smc(EL3_FID_RMM_EL3_FEATURES, {0});  // CPU 0 is booting (committed) before the file refuses writes
	SmcResult out{};
	{
		FileWritesFail guard;
		EXPECT_THROW(monitor->call(0, EL3_FID_RMM_MECID_KEY_UPDATE, {5}, out), std::exception);
	}
	EXPECT_EQ(monitor->status().mec_refreshes, 0u);
	open();
	EXPECT_EQ(monitor->status().mec_refreshes, 0u);
}

TEST_F(DurabilityTest, FirstSmcOfACpuMarksItBootingDurably)
{
	smc(EL3_FID_RMM_EL3_FEATURES, {0}, 2);  // no boot entry: the CPU is running RMM code anyway
	open();
	const auto s = monitor->status();
	ASSERT_EQ(s.cpus.size(), 1u);
	EXPECT_EQ(s.cpus[0].cpu, 2u);
	EXPECT_EQ(s.cpus[0].state, CpuBootState::Booting);
}

TEST_F(DurabilityTest, FirstSmcThatCannotBeRecordedIsNotMadeAndLeavesTheCpuOff)
{
	SmcResult out{};
	{
		FileWritesFail guard;
		EXPECT_THROW(monitor->call(1, EL3_FID_RMM_EL3_FEATURES, {0}, out), std::exception);
	}
	EXPECT_TRUE(monitor->status().cpus.empty());
	smc(EL3_FID_RMM_EL3_FEATURES, {0}, 1);
	EXPECT_EQ(monitor->status().cpus.at(0).state, CpuBootState::Booting);
}

TEST_F(DurabilityTest, DetachNeverThrowsAndKeepsTheSessionEnded)
{
	monitor->attach(0);
	const auto first = monitor->enter(0, EntryKind::Cold);
	{
		FileWritesFail guard;
		SmcResult out{};
		// The injection works: a committing SMC fails while the guard is alive...
		EXPECT_THROW(monitor->call(0, EL3_FID_RMM_MECID_KEY_UPDATE, {5}, out), std::exception);
		// ...and the last session's end, which commits too, only logs.
		LogCapture log;
		EXPECT_NO_THROW(monitor->detach(0));
		EXPECT_EQ(log.count("cannot record the end of activation"), 1u);
	}
	EXPECT_FALSE(monitor->status().cpus.at(0).session);
	monitor->attach(0);  // the CPU is free again
	const auto next = monitor->enter(0, EntryKind::Auto);
	EXPECT_EQ(next.kind, EntryKind::Cold);
	EXPECT_EQ(next.activation, first.activation + 1);  // the old instance is gone
	open();
	EXPECT_EQ(monitor->status().activation, next.activation);
}

TEST_F(DurabilityTest, PreMarksAreAppliedWhenTheFileIsCreatedNotAtEveryStart)
{
	const auto cfg = premarks({{D + 0x100000, 0x2000, "realm"}, {D + 0x200000, 0x1000, "secure"}});
	open(with_config(cfg), {}, /*reset=*/true);
	EXPECT_EQ(delegate(D + 0x100000), EL3_E_RMM_BAD_PAS);  // pre-marked Realm
	EXPECT_EQ(undelegate(D + 0x100000), EL3_E_RMM_OK);     // the RMM gives it back
	EXPECT_EQ(delegate(D + 0x200000), EL3_E_RMM_BAD_PAS);
	open(with_config(cfg));  // a daemon restart with the same configuration
	EXPECT_EQ(delegate(D + 0x100000), EL3_E_RMM_OK);       // still Non-secure: not re-marked
	EXPECT_EQ(delegate(D + 0x101000), EL3_E_RMM_BAD_PAS);  // untouched by the RMM: still Realm
	EXPECT_EQ(delegate(D + 0x200000), EL3_E_RMM_BAD_PAS);
	monitor->reset();  // a reset is a new platform: the pre-marks again
	EXPECT_EQ(delegate(D + 0x100000), EL3_E_RMM_BAD_PAS);
	EXPECT_EQ(undelegate(D + 0x100000), EL3_E_RMM_OK);
}

TEST_F(DurabilityTest, ChangedPreMarksWaitForAReset)
{
	open(with_config(premarks({{D + 0x100000, 0x1000, "secure"}})), {}, true);
	{
		LogCapture log;
		open(with_config(premarks({{D + 0x300000, 0x1000, "root"}})));
		EXPECT_EQ(log.count("`el3ctl reset`"), 1u);
	}
	EXPECT_EQ(delegate(D + 0x100000), EL3_E_RMM_BAD_PAS);  // the file's pre-marks stay
	EXPECT_EQ(delegate(D + 0x300000), EL3_E_RMM_OK);       // the new ones are not applied...
	EXPECT_EQ(undelegate(D + 0x300000), EL3_E_RMM_OK);
	monitor->reset();                                  // ...until a reset
	EXPECT_EQ(delegate(D + 0x100000), EL3_E_RMM_OK);
	EXPECT_EQ(delegate(D + 0x300000), EL3_E_RMM_BAD_PAS);
	open(with_config(premarks({{D + 0x300000, 0x1000, "root"}})));  // now they match: nothing to say
	EXPECT_EQ(delegate(D + 0x300000), EL3_E_RMM_BAD_PAS);
}

TEST_F(DurabilityTest, PreMarksAreStillCheckedOnAnExistingFile)
{
	EXPECT_THROW(open(with_config(premarks({{0x10000000, 0x1000, "secure"}}))), manifest::ConfigError);  // block-mapped
	EXPECT_THROW(open(with_config(premarks({{0xFC000000, 0x1000, "ns"}}))), manifest::ConfigError);  // fixed Secure
	open(with_config(premarks({{0xFC000000, 0x1000, "secure"}})), {}, true);  // what it already is: accepted
	EXPECT_EQ(delegate(0xFC000000), EL3_E_RMM_BAD_PAS);
}

TEST_F(DurabilityTest, ReservedAllocateBitsAreIgnoredWithOneWarningPerCall)
{
	LogCapture log;
	const auto r = smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, (uint64_t{12} << 56) | EL3_ALLOC_X2(12, 1)});
	EXPECT_EQ(x0(r), EL3_ALLOC_FRESH);
	EXPECT_EQ(log.count("ignored, as the seed does"), 1u);
	smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, EL3_ALLOC_X2(12, 2)});
	EXPECT_EQ(log.count("ignored, as the seed does"), 1u);  // defined bits only: no warning
	smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, (uint64_t{1} << 20) | EL3_ALLOC_X2(12, 3)});
	EXPECT_EQ(log.count("ignored, as the seed does"), 2u);
}

TEST_F(DurabilityTest, MemoryAccessIsSerialisedWithTheMonitor)
{
	// A writer fills one page alternately with two patterns, a reader checks that it only ever
	// sees a whole page of one byte, and resets zero it meanwhile: under the monitor lock no
	// access interleaves with another or with a reset.
	const uint64_t page = geom().rmm_limit - 0x1000;
	std::atomic<bool> stop{false};
	std::atomic<uint64_t> torn{0}, reads{0};
	std::thread reader([&] {
		std::vector<uint8_t> b;
		while (!stop.load()) {
			ASSERT_TRUE(monitor->read_memory(page, 0x1000, b));
			reads.fetch_add(1);
			for (uint8_t v : b)
				if (v != b[0]) {
					torn.fetch_add(1);
					break;
				}
		}
	});
	std::thread resetter([&] {
		for (int i = 0; i < 3 && !stop.load(); ++i) {
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
			monitor->reset();
		}
	});
	std::vector<uint8_t> a(0x1000, 0xAA), f(0x1000, 0x55);
	const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
	for (int i = 0; std::chrono::steady_clock::now() < until; ++i)
		ASSERT_TRUE(monitor->write_memory(page, (i & 1) ? a.data() : f.data(), 0x1000));
	stop = true;
	reader.join();
	resetter.join();
	EXPECT_GT(reads.load(), 0u);
	EXPECT_EQ(torn.load(), 0u);
}

// What the daemon gets once it passes its --abi to the new file (overrides.payload_default).
TEST(PayloadDefault, NewFilesForTheTfaProfilesGetUpstreamsPayloadAndKeepIt)
{
	EXPECT_EQ(payload_default(Abi::Seed), PayloadDefault::Seed);
	EXPECT_EQ(payload_default(Abi::Tfa), PayloadDefault::Tfa);
	EXPECT_EQ(payload_default(Abi::TfaV1Compat), PayloadDefault::Tfa);
	test::TempDir dir;
	CarveoutOpenRequest r;
	r.path = dir.file("c.img");
	r.overrides.payload_default = payload_default(Abi::Tfa);
	EXPECT_EQ(Carveout::open(r)->geometry().payload_limit, 0xFE200000u);
	// An existing file keeps its payload limit whatever the ABI of a later start...
	CarveoutOpenRequest seed;
	seed.path = r.path;
	EXPECT_EQ(Carveout::open(seed)->geometry().payload_limit, 0xFE200000u);
	// ...also with the platform named (the payload size is a default for new files: `--abi seed` on a file
	// made for tfa, or the other way round, must not be refused)...
	seed.platform = "fvp";
	EXPECT_EQ(Carveout::open(seed)->geometry().payload_limit, 0xFE200000u);
	// ...unless --payload-size asks for another one: then the refusal says why.
	seed.overrides.payload_size = 0x800000;
	try {
		Carveout::open(seed);
		ADD_FAILURE() << "--payload-size 0x800000 opened a file with a 6 MiB payload";
	} catch (const CarveoutError& e) {
		EXPECT_EQ(e.refusal(), CarveoutRefusal::GeometryMismatch);
		EXPECT_NE(std::string(e.what()).find("payload_limit"), std::string::npos) << e.what();
	}
	// --payload-size still wins over the default.
	CarveoutOpenRequest big;
	big.path = dir.file("d.img");
	big.overrides.payload_default = PayloadDefault::Tfa;
	big.overrides.payload_size = 0x800000;
	EXPECT_EQ(Carveout::open(big)->geometry().payload_limit, 0xFE400000u);
}
