#pragma once
// Fault injection: rules that make chosen SMCs (or boot entries) fail on purpose, so that an RMM's error paths can be
// exercised against el3d (docs/faults.md). A rule picks calls (a FID or all, a CPU or all, a condition on the
// argument registers), a trigger decides which of the picked calls it answers (the Nth, every Kth, with a
// probability under a seed, in bursts, always), and an action says how: a result chosen from the errors the
// specification lists for that FID, a delay, or the end of the caller's session (an RMM crash at that SMC).
//
// No gRPC and no monitor here: the monitor asks the Injector before it runs a handler, and the daemon and el3ctl
// move rules around as the JSON documents this component reads and writes.
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace el3d::faults {

// A rule that cannot be used. The message names the rule and the field, e.g. "rule 2 (id bad-pas): result: ...".
class RuleError : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

// Bounds on what a client may add (rules come over the socket too).
inline constexpr std::size_t kMaxRules = 256;
inline constexpr std::size_t kMaxConditions = 8;
inline constexpr std::size_t kMaxIdLength = 64;
inline constexpr uint64_t kMaxDelayMs = 60000;

// One comparison of an argument register: (x<reg> & mask) <op> value.
struct Condition {
	enum class Op { Eq, Ne, Lt, Le, Gt, Ge };
	unsigned reg = 1;  // 1..12
	uint64_t mask = ~uint64_t{0};
	Op op = Op::Eq;
	uint64_t value = 0;
	bool holds(const std::array<uint64_t, 12>& x) const;
	std::string text() const;  // "x2&0xfff!=0x0"
};

enum class Trigger {
	Always,       // every picked call
	Nth,          // the Nth picked call only
	Every,        // picked calls K, 2K, 3K, ...
	Probability,  // each picked call with probability p, drawn from a generator seeded with `seed`
	Cycle,        // `fire` picked calls answered, then `pass` served, and again (E_RMM_AGAIN bursts)
};

enum class On { Smc, Entry };

struct Rule {
	std::string id;  // unique; given, or assigned ("f1", "f2", ...) when added
	On on = On::Smc;
	std::optional<uint32_t> fid;  // low 32 bits; none: every FID (Smc rules)
	std::optional<uint32_t> cpu;  // none: every CPU
	Trigger trigger = Trigger::Always;
	uint64_t n = 0;        // Nth / Every: N or K; Cycle: fire
	uint64_t pass = 0;     // Cycle: calls served between bursts
	double p = 0;          // Probability
	uint64_t seed = 0;     // Probability
	std::vector<Condition> when;  // all must hold for a call to be picked
	std::optional<uint64_t> times;  // fire at most this often
	// Action (Smc rules): x0 to answer without running the command; a delay first; or end the session.
	std::optional<uint64_t> result;
	uint64_t delay_ms = 0;
	bool kill = false;
	// Only calls the command's own argument checks accept are picked (RMM_ATTEST_GET_PLAT_TOKEN only: E_RMM_AGAIN
	// comes after the buffer checks in TF-A's order). What --inject-again N is made of.
	bool after_checks = false;
	// Entry rules: the Boot Manifest faults (src/manifest fault names) added to the cold boots picked.
	std::vector<std::string> manifest;
};

// A rule and what it did so far.
struct RuleStatus {
	Rule rule;
	uint64_t matched = 0;  // calls picked (FID, CPU, condition)
	uint64_t fired = 0;    // calls it answered
};

// What the monitor does with a call a rule fired on.
struct Decision {
	std::string rule;
	std::optional<uint64_t> result;  // answer this x0 (the handler does not run)
	uint64_t delay_ms = 0;           // before answering, or before the real call when there is no result
	bool kill = false;               // end the caller's session instead of answering
	uint64_t fired = 0;              // how often the rule has fired, this time included (logs quieten down)
};

// Where the monitor asks: before the handler (every rule but after_checks ones), or at a command's own check point.
enum class Stage { Dispatch, Checked };

// The FID for a name ("RMM_GTSI_DELEGATE", "FIRME_GM_GPI_SET", ...) or a number ("0xC40001B0"); nullopt otherwise.
std::optional<uint32_t> parse_fid(std::string_view s);
std::string fid_label(uint32_t fid);  // the name, or 0x... for a FID without one
// The x0 for a result name (E_RMM_*, FIRME_*, SMC_UNK) or a number (decimal, negative, or hex); nullopt otherwise.
std::optional<uint64_t> parse_result(std::string_view s);
// The results a rule on `fid` may answer under the ABI profile `abi` ("seed", "tfa", "tfa-v1-compat"): the errors
// the specification lists for that FID, and SMC_UNK (every FID may be absent). Names, for messages and docs.
std::vector<std::string> allowed_results(uint32_t fid, std::string_view abi);
std::string result_label(uint32_t fid, uint64_t x0);  // the name in the FID's family

// A rule from its JSON form (docs/faults.md); `where` prefixes messages ("rule 2"). Checks types, ranges and names;
// the result against the FID needs the profile: validate().
Rule rule_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const Rule& r);
std::string describe(const Rule& r);  // one line: "bad-pas: RMM_GTSI_DELEGATE cpu any nth 3 -> E_RMM_BAD_PAS"
// The rules of a --faults file: JSON or TOML (by the extension), a list of rules under the key `faults` (a JSON
// file may also be the bare list). Read with the bounded reader of src/manifest.
std::vector<Rule> parse_rules(std::string_view text, bool toml);
std::vector<Rule> load_rules(const std::string& path);
// RuleError unless the rule can be used under the profile (its result is one the FID may return, and so on).
void validate(const Rule& r, std::string_view abi);

// The rules in force, thread-safe. Calls are counted per rule: only the calls a rule picks.
class Injector {
public:
	explicit Injector(std::string abi = "seed");
	// Validates and adds; returns the id (assigned if empty). RuleError: invalid, duplicate id, too many rules.
	std::string add(Rule r);
	std::vector<RuleStatus> list() const;
	// Removes one rule (true if it existed), or all of them (`id` empty); returns how many went.
	std::size_t clear(const std::string& id = "");
	bool empty() const { return count_.load(std::memory_order_relaxed) == 0; }

	// An SMC: rules are asked in the order they were added; every rule that picks the call counts it, the first one
	// that fires decides and the rules after it do not see the call. `fid` is normalised (low 32 bits).
	std::optional<Decision> decide(uint32_t cpu, uint32_t fid, const std::array<uint64_t, 12>& x,
	                               Stage stage = Stage::Dispatch);
	// A cold boot entry of `cpu`: the manifest faults of every entry rule that fires, and the first such rule's id.
	std::optional<std::pair<std::string, std::vector<std::string>>> decide_entry(uint32_t cpu);

private:
	struct Live {
		RuleStatus s;
		std::mt19937_64 rng;
	};
	bool fires(Live& l);
	std::string abi_;
	mutable std::mutex mu_;
	std::vector<Live> rules_;
	uint64_t next_id_ = 1;
	std::atomic<std::size_t> count_{0};
};

}  // namespace el3d::faults
