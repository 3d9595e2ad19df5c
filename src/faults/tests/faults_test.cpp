// The rule engine: each trigger fires on exactly the calls it should, conditions pick calls, seeds reproduce, and
// bad rules are refused with the rule and the field named.
#include "el3d/faults/faults.hpp"

#include "el3d/smc.h"

#include <gtest/gtest.h>

namespace el3d::faults {
namespace {

using Regs = std::array<uint64_t, 12>;
constexpr uint32_t DEL = EL3_FID_RMM_GTSI_DELEGATE;
constexpr uint32_t UNDEL = EL3_FID_RMM_GTSI_UNDELEGATE;

Rule from(const std::string& text) { return rule_from_json(nlohmann::json::parse(text), "rule 1"); }

// Which of `calls` calls of (cpu, fid, x) the injector answered, 1-based.
std::vector<int> fired(Injector& in, int calls, uint32_t fid = DEL, uint32_t cpu = 0, Regs x = {})
{
	std::vector<int> out;
	for (int i = 1; i <= calls; ++i)
		if (in.decide(cpu, fid, x))
			out.push_back(i);
	return out;
}

std::string refusal(const std::string& text, const std::string& abi = "tfa")
{
	try {
		Injector in(abi);
		in.add(from(text));
	} catch (const RuleError& e) {
		return e.what();
	}
	return "";
}

TEST(Faults, NthFiresOnceOnTheNthPickedCall)
{
	Injector in("tfa");
	in.add(from(R"({"id": "third", "fid": "RMM_GTSI_DELEGATE", "nth": 3, "result": "E_RMM_BAD_PAS"})"));
	EXPECT_FALSE(in.decide(0, UNDEL, {}));  // another FID: not picked, not counted
	EXPECT_EQ(fired(in, 10), std::vector<int>({3}));
	auto l = in.list();
	ASSERT_EQ(l.size(), 1u);
	EXPECT_EQ(l[0].matched, 10u);
	EXPECT_EQ(l[0].fired, 1u);
}

TEST(Faults, DecisionCarriesTheResultAndTheRule)
{
	Injector in("tfa");
	in.add(from(R"({"id": "r", "fid": "0xC40001B0", "always": true, "result": -3})"));
	auto d = in.decide(0, DEL, {});
	ASSERT_TRUE(d);
	EXPECT_EQ(d->rule, "r");
	EXPECT_EQ(d->result, static_cast<uint64_t>(EL3_E_RMM_BAD_PAS));
	EXPECT_FALSE(d->kill);
}

TEST(Faults, EveryKthAndTimes)
{
	Injector in("tfa");
	in.add(from(R"({"fid": "RMM_GTSI_DELEGATE", "every": 3, "times": 2, "result": "E_RMM_BAD_ADDR"})"));
	EXPECT_EQ(fired(in, 12), std::vector<int>({3, 6}));
}

TEST(Faults, CycleFiresBurstsThenPasses)
{
	Injector in("tfa");
	in.add(from(R"({"fid": "RMM_ATTEST_GET_PLAT_TOKEN", "cycle": {"fire": 2, "pass": 1}, "result": "E_RMM_AGAIN"})"));
	EXPECT_EQ(fired(in, 9, EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN), std::vector<int>({1, 2, 4, 5, 7, 8}));
}

TEST(Faults, CpuFilterCountsOnlyThatCpu)
{
	Injector in("tfa");
	in.add(from(R"({"fid": "RMM_GTSI_DELEGATE", "cpu": 1, "nth": 2, "result": "E_RMM_BAD_PAS"})"));
	EXPECT_FALSE(in.decide(0, DEL, {}));
	EXPECT_FALSE(in.decide(1, DEL, {}));
	EXPECT_FALSE(in.decide(0, DEL, {}));
	EXPECT_TRUE(in.decide(1, DEL, {}));
	EXPECT_EQ(in.list()[0].matched, 2u);
}

TEST(Faults, ConditionsPickCalls)
{
	Injector in("tfa");
	in.add(from(R"({"fid": "RMM_GTSI_DELEGATE", "when": "x1 > 0x80001000 && x1&0xfff == 0", "nth": 1,
	                "result": "E_RMM_BAD_ADDR"})"));
	EXPECT_FALSE(in.decide(0, DEL, {0x80001000}));  // not > 0x80001000
	EXPECT_FALSE(in.decide(0, DEL, {0x80002008}));  // not aligned
	EXPECT_EQ(in.list()[0].matched, 0u);
	EXPECT_TRUE(in.decide(0, DEL, {0x80002000}));
	EXPECT_FALSE(in.decide(0, DEL, {0x80003000}));  // nth 1 fired already
	// Each comparison with a value of x2 it holds for and one it does not.
	const std::tuple<const char*, uint64_t, uint64_t> cmp[] = {
	    {"x2==5", 5, 4}, {"x2!=4", 5, 4}, {"x2<6", 5, 6},   {"x2<=5", 5, 6},
	    {"x2>4", 5, 4},  {"x2>=5", 5, 4}, {"x2&0x4==4", 5, 2}, {"x12 > 0", 1, 0},
	};
	for (const auto& [w, yes, no] : cmp) {
		Condition c = from(std::string(R"({"fid": 1, "when": ")") + w + R"(", "kill": true})").when.at(0);
		Regs y{}, n{};
		y[c.reg - 1] = yes;
		n[c.reg - 1] = no;
		EXPECT_TRUE(c.holds(y)) << w;
		EXPECT_FALSE(c.holds(n)) << w;
	}
}

TEST(Faults, ProbabilityIsReproducibleUnderItsSeed)
{
	auto run = [](uint64_t seed) {
		Injector in("tfa");
		in.add(from(R"({"fid": "RMM_GTSI_DELEGATE", "probability": 0.3, "seed": )" + std::to_string(seed) +
		            R"(, "result": "E_RMM_BAD_PAS"})"));
		return fired(in, 200);
	};
	const auto a = run(7);
	EXPECT_EQ(a, run(7));
	EXPECT_NE(a, run(8));
	EXPECT_GT(a.size(), 30u);
	EXPECT_LT(a.size(), 90u);
	Injector never("tfa");
	never.add(from(R"({"probability": 0, "result": "SMC_UNK"})"));
	EXPECT_TRUE(fired(never, 50).empty());
}

TEST(Faults, FirstFiringRuleDecidesAndLaterRulesDoNotSeeTheCall)
{
	Injector in("tfa");
	in.add(from(R"({"id": "a", "fid": "RMM_GTSI_DELEGATE", "nth": 2, "result": "E_RMM_BAD_PAS"})"));
	in.add(from(R"({"id": "b", "always": true, "result": "SMC_UNK"})"));
	EXPECT_EQ(in.decide(0, DEL, {})->rule, "b");
	EXPECT_EQ(in.decide(0, DEL, {})->rule, "a");
	EXPECT_EQ(in.decide(0, DEL, {})->rule, "b");
	auto l = in.list();
	EXPECT_EQ(l[0].matched, 3u);
	EXPECT_EQ(l[1].matched, 2u);  // the call rule a answered never reached b
}

TEST(Faults, AfterChecksRulesAnswerOnlyAtTheCheckPoint)
{
	Injector in("tfa");
	in.add(from(R"({"id": "inject-again", "fid": "RMM_ATTEST_GET_PLAT_TOKEN", "cycle": [1, 1], "after_checks": true,
	                "result": "E_RMM_AGAIN"})"));
	EXPECT_FALSE(in.decide(0, EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {}));
	EXPECT_TRUE(in.decide(0, EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {}, Stage::Checked));
	EXPECT_FALSE(in.decide(0, EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {}, Stage::Checked));
}

TEST(Faults, EntryRulesCollectManifestFaults)
{
	Injector in("tfa");
	in.add(from(R"({"id": "e", "on": "entry", "cpu": 0, "nth": 2, "manifest": ["dram-unsorted"]})"));
	EXPECT_FALSE(in.decide_entry(0));
	EXPECT_FALSE(in.decide_entry(1));
	auto d = in.decide_entry(0);
	ASSERT_TRUE(d);
	EXPECT_EQ(d->first, "e");
	EXPECT_EQ(d->second, std::vector<std::string>({"dram-unsorted"}));
	EXPECT_FALSE(in.decide(0, DEL, {}));  // entry rules never answer SMCs
}

TEST(Faults, AddListClear)
{
	Injector in("tfa");
	EXPECT_TRUE(in.empty());
	EXPECT_EQ(in.add(from(R"({"kill": true})")), "f1");
	EXPECT_EQ(in.add(from(R"({"id": "f2", "kill": true})")), "f2");
	EXPECT_EQ(in.add(from(R"({"kill": true})")), "f3");  // f2 is taken
	EXPECT_THROW(in.add(from(R"({"id": "f1", "kill": true})")), RuleError);
	EXPECT_EQ(in.clear("f2"), 1u);
	EXPECT_EQ(in.clear("nope"), 0u);
	EXPECT_EQ(in.list().size(), 2u);
	EXPECT_EQ(in.clear(), 2u);
	EXPECT_TRUE(in.empty());
}

TEST(Faults, ResultsAreCheckedAgainstTheSpecificationForTheProfile)
{
	const std::string e = refusal(R"({"id": "x", "fid": "RMM_GTSI_DELEGATE", "result": "E_RMM_NOMEM"})");
	EXPECT_NE(e.find("rule x"), std::string::npos) << e;
	EXPECT_NE(e.find("result"), std::string::npos) << e;
	EXPECT_NE(e.find("allowed: E_RMM_BAD_ADDR, E_RMM_BAD_PAS, SMC_UNK"), std::string::npos) << e;
	EXPECT_EQ(refusal(R"({"fid": "RMM_GTSI_DELEGATE", "result": "SMC_UNK"})"), "");
	EXPECT_EQ(refusal(R"({"fid": "FIRME_GM_GPI_SET", "result": "FIRME_DENIED"})"), "");
	EXPECT_NE(refusal(R"({"fid": "FIRME_GM_GPI_SET", "result": "FIRME_DENIED"})", "seed"), "");  // no FIRME in seed
	EXPECT_EQ(refusal(R"({"fid": "RMM_ALLOCATE_MEMORY", "result": "E_RMM_NOMEM"})", "seed"), "");
	EXPECT_NE(refusal(R"({"fid": "RMM_ALLOCATE_MEMORY", "result": "E_RMM_NOMEM"})", "tfa"), "");
	EXPECT_NE(refusal(R"({"result": "E_RMM_BAD_PAS"})"), "");  // every FID: SMC_UNK only
	EXPECT_NE(refusal(R"({"fid": "RMM_GTSI_DELEGATE", "result": "E_RMM_OK"})"), "");
}

TEST(Faults, MalformedRulesAreRefusedNamingTheField)
{
	const std::pair<const char*, const char*> cases[] = {
	    {R"({"fid": "NOPE", "kill": true})", "fid"},
	    {R"({"fid": "RMM_GTSI_DELEGATE"})", "needs an action"},
	    {R"({"nth": 0, "kill": true})", "nth"},
	    {R"({"nth": 1, "every": 2, "kill": true})", "one trigger"},
	    {R"({"probability": 1.5, "kill": true})", "probability"},
	    {R"({"seed": 1, "kill": true})", "seed"},
	    {R"({"when": "x13>0", "kill": true})", "x1..x12"},
	    {R"({"when": "x1=>0", "kill": true})", "comparison"},
	    {R"({"when": "x1>zz", "kill": true})", "not a number"},
	    {R"({"delay_ms": 600000})", "delay_ms"},
	    {R"({"bogus": 1, "kill": true})", "bogus"},
	    {R"({"id": "a b", "kill": true})", "id"},
	    {R"({"kill": true, "result": "SMC_UNK"})", "kill"},
	    {R"({"on": "entry", "manifest": ["no-such-fault"]})", "no-such-fault"},
	    {R"({"on": "entry"})", "manifest"},
	    {R"({"fid": "RMM_GTSI_DELEGATE", "after_checks": true, "result": "E_RMM_BAD_PAS"})", "after_checks"},
	    {R"({"fid": "RMM_RMI_REQ_COMPLETE", "kill": true})", "world switch"},
	};
	for (const auto& [text, want] : cases) {
		const std::string e = refusal(text);
		EXPECT_NE(e.find(want), std::string::npos) << text << " -> " << e;
	}
}

TEST(Faults, FilesJsonAndTomlAndTheirBounds)
{
	auto a = parse_rules(R"({"faults": [{"id": "d3", "fid": "RMM_GTSI_DELEGATE", "nth": 3, "result": "E_RMM_BAD_PAS"}]})",
	                     false);
	auto b = parse_rules("[[faults]]\nid = \"d3\"\nfid = \"RMM_GTSI_DELEGATE\"\nnth = 3\nresult = \"E_RMM_BAD_PAS\"\n",
	                     true);
	ASSERT_EQ(a.size(), 1u);
	ASSERT_EQ(b.size(), 1u);
	EXPECT_EQ(to_json(a[0]), to_json(b[0]));
	EXPECT_EQ(to_json(rule_from_json(to_json(a[0]), "again")), to_json(a[0]));  // round trip
	EXPECT_EQ(describe(a[0]), "d3: RMM_GTSI_DELEGATE any cpu nth 3 -> E_RMM_BAD_PAS");
	try {
		parse_rules(R"({"faults": [{"kill": true}, {"nth": "x", "kill": true}]})", false);
		FAIL();
	} catch (const RuleError& e) {
		EXPECT_NE(std::string(e.what()).find("rule 2: nth"), std::string::npos) << e.what();
	}
	EXPECT_THROW(parse_rules(std::string(2u << 20, ' '), false), RuleError);
	EXPECT_THROW(parse_rules(std::string(100, '[') + std::string(100, ']'), false), RuleError);
	EXPECT_THROW(parse_rules(R"({"rules": []})", false), RuleError);
	std::string many = R"({"faults": [)";
	for (std::size_t i = 0; i <= kMaxRules; ++i)
		many += std::string(i ? "," : "") + R"({"kill": true})";
	EXPECT_THROW(parse_rules(many + "]}", false), RuleError);
}

}  // namespace
}  // namespace el3d::faults
