#pragma once
// The SMC trace: every SMC, boot entry, session open/close, RMI and reset el3d serves, as events
// with what went in, what came out and what it changed. Sinks: a file (JSON Lines, format in
// docs/trace.md, each event written with one write(2) before the call it records returns, so a
// kill -9 loses nothing completed), a bounded ring in memory, and live subscribers (el3ctl trace).
// No gRPC and no monitor here: the monitor reports through its SmcObserver, the daemon adds the rest.
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace el3d::trace {

inline constexpr int kFormatVersion = 1;

enum class Kind { Smc, Entry, SessionOpen, SessionClose, Rmi, Reset, Start, Snapshot };
const char* kind_name(Kind k);
std::optional<Kind> kind_from_name(const std::string& s);

// Memory a call read (the bytes, so that a replay can put them back) or wrote (their SHA-256).
struct MemIn {
	uint64_t pa = 0;
	std::vector<uint8_t> bytes;
	bool operator==(const MemIn&) const = default;
};
struct MemOut {
	uint64_t pa = 0, len = 0;
	std::array<uint8_t, 32> sha256{};
	bool operator==(const MemOut&) const = default;
};

struct Event {
	uint64_t seq = 0;        // 1, 2, ... per daemon run (set by Tracer::record)
	int64_t time_ns = 0;     // wall clock, nanoseconds since 1970 (set by record unless given)
	Kind kind = Kind::Smc;
	uint32_t cpu = 0;
	uint64_t activation = 0;
	uint64_t fid = 0;        // Smc, Rmi: x0 as the caller set it; Entry: 1 cold, 2 warm
	std::string name;        // FID name (Smc, Rmi), "cold"/"warm" (Entry)
	std::array<uint64_t, 12> in{};   // x1 .. x12
	std::array<uint64_t, 8> out{};   // x0 .. x7 (Entry: the entry registers)
	std::string result;      // name of out[0], or an error ("ABORTED: ...")
	uint64_t duration_ns = 0;
	std::vector<std::string> effects;  // what the call changed: "region id=1 0xffbfd000+0x2000 fresh", ...
	bool injected = false;   // a fault injected on purpose answered it
	std::string note;        // sessions: the client; anything else worth a word
	std::vector<MemIn> mem_in;    // Smc: memory the call read
	std::vector<MemOut> mem_out;  // Smc: memory the call wrote
	nlohmann::json config;        // Start: how el3d was set up (what a replay needs); Entry: a boot config of its own
};

nlohmann::json to_json(const Event& e);
// Throws std::invalid_argument (with the field) for a line that is not an event of this format.
Event from_json(const nlohmann::json& j);
// One line of `el3ctl trace show`: "#12 09:21:33.123456 cpu0 act1 RMM_ALLOCATE_MEMORY x1=... -> E_RMM_OK x1=... 12.3us".
std::string describe(const Event& e);

struct Filter {
	std::optional<uint32_t> cpu;
	std::optional<uint32_t> fid;      // low 32 bits
	std::optional<std::string> result;
	bool matches(const Event& e) const;
};

// Read a trace file: every complete line; a last line cut short (a kill during its write) is
// skipped and counted. Throws std::runtime_error for a file that cannot be read or a damaged line
// other than the last.
struct FileContents {
	std::vector<Event> events;
	bool truncated_tail = false;
};
FileContents read_file(const std::string& path);

// Counts per FID name and result, and the slowest calls.
struct Summary {
	std::map<std::string, std::map<std::string, uint64_t>> counts;  // name -> result -> calls
	std::vector<Event> slowest;                                     // up to 10, slowest first
	uint64_t events = 0, injected = 0;
};
Summary summarize(const std::vector<Event>& events);
std::string format_summary(const Summary& s);

class Subscription {
public:
	explicit Subscription(Filter f, std::size_t limit) : filter_(std::move(f)), limit_(limit) {}
	// The next event, or nullopt after `timeout` (or once closed).
	std::optional<Event> next(std::chrono::milliseconds timeout);
	uint64_t lost() const;  // events dropped because the subscriber fell `limit` behind
	void close();

private:
	friend class Tracer;
	void push(const Event& e);
	Filter filter_;
	std::size_t limit_;
	mutable std::mutex mu_;
	std::condition_variable cv_;
	std::deque<Event> q_;
	uint64_t lost_ = 0;
	bool closed_ = false;
};

class Tracer {
public:
	Tracer() = default;
	~Tracer();
	Tracer(const Tracer&) = delete;
	Tracer& operator=(const Tracer&) = delete;

	// Whether anything listens: callers skip building events when not.
	bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
	// Record one event: seq and (unless set) time are assigned here. Thread-safe; events are
	// numbered and written in the order of the calls. An I/O error on the file is logged once and
	// the file sink turned off (tracing never fails an SMC).
	void record(Event e);

	// Sinks, changeable at any time. open_file: append to `path` ("" = no file); throws
	// std::runtime_error if it cannot be opened (the previous file stays). set_ring(0) = no ring.
	void open_file(const std::string& path);
	void set_ring(std::size_t n);
	std::string file() const;
	std::size_t ring_size() const;
	// A fixed clock (el3d --fixed-clock): event i is at i microseconds after 1970 and every duration is
	// 0, so that two runs of the same calls write the same file.
	void set_fixed_clock(bool on);
	std::vector<Event> ring() const;
	uint64_t recorded() const;

	std::shared_ptr<Subscription> subscribe(Filter f, std::size_t limit = 4096);
	void unsubscribe(const std::shared_ptr<Subscription>& s);

private:
	void update_enabled();  // caller holds mu_
	mutable std::mutex mu_;
	std::atomic<bool> enabled_{false};
	int fd_ = -1;
	std::string file_;
	std::size_t ring_limit_ = 0;
	std::deque<Event> ring_;
	std::vector<std::shared_ptr<Subscription>> subs_;
	uint64_t seq_ = 0;
	bool fixed_clock_ = false;
};

}  // namespace el3d::trace
