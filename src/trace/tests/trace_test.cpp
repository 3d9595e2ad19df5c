#include "el3d/trace/trace.hpp"

#include "tempdir.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

using namespace el3d::trace;
using namespace std::chrono_literals;

namespace {

Event smc(uint32_t cpu, uint64_t fid, const char* name, uint64_t x0, const char* result, uint64_t ns = 1000)
{
	Event e;
	e.cpu = cpu;
	e.activation = 1;
	e.fid = fid;
	e.name = name;
	e.in[0] = 0x2000;
	e.in[1] = 0xc000001;
	e.out[0] = x0;
	e.out[1] = 0xffbfd000;
	e.result = result;
	e.duration_ns = ns;
	return e;
}

std::string slurp(const std::string& path)
{
	std::ifstream f(path);
	return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(TraceFormat, AnEventRoundTripsThroughItsJsonLine)
{
	Event e = smc(3, 0xC40001B7, "RMM_ALLOCATE_MEMORY", 1, "fresh");
	e.seq = 7;
	e.time_ns = 1795959733123456789;
	e.effects = {"region id=1 0xffbfd000+0x2000 fresh"};
	e.injected = true;
	e.note = "n";
	e.in[11] = ~0ull;
	const nlohmann::json j = to_json(e);
	EXPECT_EQ(j["fid"], "0xc40001b7");
	EXPECT_EQ(j["in"].size(), 12u);
	EXPECT_EQ(j["out"].size(), 2u) << "trailing zero registers are left out";
	const Event back = from_json(nlohmann::json::parse(j.dump()));
	EXPECT_EQ(to_json(back), j);
	EXPECT_EQ(back.in[11], ~0ull);
	const std::string d = describe(e);
	EXPECT_NE(d.find("#7 "), std::string::npos) << d;
	EXPECT_NE(d.find("cpu3 act1 RMM_ALLOCATE_MEMORY x1=0x2000 x2=0xc000001 -> fresh x1=0xffbfd000 1.0us"),
	          std::string::npos)
	    << d;
	EXPECT_NE(d.find("[injected] [region id=1"), std::string::npos) << d;
}

TEST(TraceFormat, BadLinesNameTheirField)
{
	auto bad = [](const char* text) {
		try {
			from_json(nlohmann::json::parse(text));
		} catch (const std::invalid_argument& e) {
			return std::string(e.what());
		}
		return std::string("accepted");
	};
	EXPECT_NE(bad(R"({"v":2})").find("format version"), std::string::npos);
	EXPECT_NE(bad(R"({"v":1,"seq":1,"t_ns":1,"kind":"nope","cpu":0,"act":1})").find("kind"), std::string::npos);
	EXPECT_NE(bad(R"({"v":1,"seq":1,"t_ns":1,"kind":"smc","cpu":0,"act":1,"fid":"12"})").find("fid"),
	          std::string::npos);
	EXPECT_NE(bad(R"({"v":1,"seq":1,"t_ns":1,"kind":"smc","cpu":0,"act":1,"in":[1]})").find("in"), std::string::npos);
	EXPECT_NE(bad(R"({"v":1,"seq":"x"})").find("trace event"), std::string::npos);
}

TEST(Tracer, WritesEachEventToTheFileAtOnceAndNumbersThem)
{
	el3d::test::TempDir dir;
	Tracer t;
	EXPECT_FALSE(t.enabled());
	t.open_file(dir.file("t.jsonl"));
	EXPECT_TRUE(t.enabled());
	t.record(smc(0, 0xC40001B7, "RMM_ALLOCATE_MEMORY", 1, "fresh"));
	// On disk before record() returns: what a kill -9 right now would leave.
	const auto f1 = read_file(dir.file("t.jsonl"));
	ASSERT_EQ(f1.events.size(), 1u);
	EXPECT_EQ(f1.events[0].seq, 1u);
	EXPECT_GT(f1.events[0].time_ns, 0);
	t.record(smc(1, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK"));
	const auto f2 = read_file(dir.file("t.jsonl"));
	ASSERT_EQ(f2.events.size(), 2u);
	EXPECT_EQ(f2.events[1].seq, 2u);
	EXPECT_EQ(f2.events[1].cpu, 1u);
	// Off: nothing more is written.
	t.open_file("");
	EXPECT_FALSE(t.enabled());
	t.record(smc(0, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK"));
	EXPECT_EQ(read_file(dir.file("t.jsonl")).events.size(), 2u);
	EXPECT_THROW(t.open_file(dir.file("no/such/dir/t.jsonl")), std::runtime_error);
}

TEST(Tracer, AFileCutShortByAKillReadsUpToItsLastCompleteLine)
{
	el3d::test::TempDir dir;
	const std::string p = dir.file("t.jsonl");
	{
		Tracer t;
		t.open_file(p);
		for (int i = 0; i < 3; ++i)
			t.record(smc(0, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK"));
	}
	const std::string text = slurp(p);
	ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(text.size() - 10)), 0);
	const auto f = read_file(p);
	EXPECT_EQ(f.events.size(), 2u);
	EXPECT_TRUE(f.truncated_tail);
	// A damaged line in the middle is an error, with its line number.
	std::ofstream(p) << text.substr(0, 20) << "\n" << text;
	try {
		read_file(p);
		FAIL() << "accepted";
	} catch (const std::runtime_error& e) {
		EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
	}
}

TEST(Tracer, TheRingKeepsTheLastN)
{
	Tracer t;
	t.set_ring(2);
	for (uint32_t cpu = 0; cpu < 5; ++cpu)
		t.record(smc(cpu, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK"));
	auto r = t.ring();
	ASSERT_EQ(r.size(), 2u);
	EXPECT_EQ(r[0].cpu, 3u);
	EXPECT_EQ(r[1].seq, 5u);
	t.set_ring(1);
	EXPECT_EQ(t.ring().size(), 1u);
	t.set_ring(0);
	EXPECT_FALSE(t.enabled());
}

TEST(Tracer, SubscribersSeeMatchingEventsAndLoseWhatTheyCannotKeepUpWith)
{
	Tracer t;
	auto all = t.subscribe({}, 2);
	auto cpu1 = t.subscribe({1, std::nullopt, std::nullopt});
	auto oks = t.subscribe({std::nullopt, 0xC40001B0, std::string("E_RMM_OK")});
	EXPECT_TRUE(t.enabled());
	t.record(smc(0, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK"));
	t.record(smc(1, 0xC40001B0, "RMM_GTSI_DELEGATE", static_cast<uint64_t>(-3), "E_RMM_BAD_PAS"));
	t.record(smc(1, 0xC40001B7, "RMM_ALLOCATE_MEMORY", 1, "fresh"));
	EXPECT_EQ(all->lost(), 1u);
	EXPECT_EQ(all->next(0ms)->seq, 1u);
	EXPECT_EQ(all->next(0ms)->seq, 2u);
	EXPECT_FALSE(all->next(0ms));
	EXPECT_EQ(cpu1->next(0ms)->seq, 2u);
	EXPECT_EQ(cpu1->next(0ms)->seq, 3u);
	EXPECT_EQ(oks->next(0ms)->seq, 1u);
	EXPECT_FALSE(oks->next(0ms));
	// A waiting subscriber is woken by the next event.
	std::thread later([&] {
		std::this_thread::sleep_for(50ms);
		t.record(smc(1, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK"));
	});
	auto e = cpu1->next(5s);
	later.join();
	ASSERT_TRUE(e);
	EXPECT_EQ(e->seq, 4u);
	t.unsubscribe(all);
	t.unsubscribe(cpu1);
	t.unsubscribe(oks);
	EXPECT_FALSE(t.enabled());
}

TEST(TraceSummary, CountsPerFidAndResultAndTheSlowest)
{
	std::vector<Event> ev = {smc(0, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK", 5000),
	                         smc(0, 0xC40001B0, "RMM_GTSI_DELEGATE", 0, "E_RMM_OK", 100),
	                         smc(0, 0xC40001B0, "RMM_GTSI_DELEGATE", static_cast<uint64_t>(-3), "E_RMM_BAD_PAS", 9000)};
	ev[2].injected = true;
	const Summary s = summarize(ev);
	EXPECT_EQ(s.counts.at("RMM_GTSI_DELEGATE").at("E_RMM_OK"), 2u);
	EXPECT_EQ(s.counts.at("RMM_GTSI_DELEGATE").at("E_RMM_BAD_PAS"), 1u);
	ASSERT_EQ(s.slowest.size(), 3u);
	EXPECT_EQ(s.slowest[0].duration_ns, 9000u);
	EXPECT_EQ(s.injected, 1u);
	const std::string text = format_summary(s);
	EXPECT_NE(text.find("3 events, 1 injected faults"), std::string::npos) << text;
}
