// The replay itself: a scratch carveout and an in-process monitor set up as the trace's start event
// says, each event re-issued in the order it was recorded and compared with what was recorded.
#include "el3d/replay/replay.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/snapshot/store.hpp"
#include "el3d/util/fd.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace el3d::replay {

namespace {

std::string hex(uint64_t v)
{
	char b[24];
	std::snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return b;
}

[[noreturn]] void fail_errno(const std::string& what)
{
	throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Copy `from` to the new file `to`, keeping holes: a reflink where the filesystem has one, else the
// data extents one by one (a carveout file is mostly holes).
void copy_sparse(const std::string& from, const std::string& to)
{
	UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
	if (!in.valid())
		fail_errno("cannot open " + from);
	struct stat st{};
	if (::fstat(in.get(), &st) != 0)
		fail_errno("cannot stat " + from);
	UniqueFd out(::open(to.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
	if (!out.valid())
		fail_errno("cannot create " + to);
	if (::ioctl(out.get(), FICLONE, in.get()) == 0)
		return;
	if (::ftruncate(out.get(), st.st_size) != 0)
		fail_errno("cannot size " + to);
	off_t pos = 0;
	while (pos < st.st_size) {
		off_t data = ::lseek(in.get(), pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;  // only a hole is left
			fail_errno("cannot read " + from);
		}
		off_t hole = ::lseek(in.get(), data, SEEK_HOLE);
		if (hole < 0)
			fail_errno("cannot read " + from);
		off_t src = data, dst = data;
		while (src < hole) {
			const ssize_t n = ::copy_file_range(in.get(), &src, out.get(), &dst, static_cast<size_t>(hole - src), 0);
			if (n < 0)
				fail_errno("cannot copy " + from);
			if (n == 0)
				break;
		}
		pos = hole;
	}
}

// Records what the monitor reports of the call being replayed.
class Capture final : public SmcObserver {
public:
	void on_smc(const SmcRecord& r) override { smc = r; }
	void on_entry(uint32_t, const Entry& e) override { entry = e; }
	SmcRecord smc;
	Entry entry;
};

std::string join(const std::vector<std::string>& v)
{
	std::string s = "[";
	for (std::size_t i = 0; i < v.size(); ++i)
		s += (i ? ", " : "") + v[i];
	return s + "]";
}

std::string digest_hex(const std::array<uint8_t, 32>& d)
{
	std::string s;
	char b[3];
	for (uint8_t c : d) {
		std::snprintf(b, sizeof b, "%02x", c);
		s += b;
	}
	return s;
}

class Replayer {
public:
	Replayer(const Options& o, Report& r) : o_(o), r_(r) {}
	~Replayer()
	{
		monitor_.reset();
		if (!dir_.empty()) {
			std::error_code ec;
			std::filesystem::remove_all(dir_, ec);
		}
	}

	void run(const std::vector<trace::Event>& events)
	{
		std::size_t i = 0;
		while (i < events.size() && events[i].kind != trace::Kind::Start)
			++i;
		if (i == events.size())
			throw std::runtime_error("the trace has no start event (it was opened while el3d ran, with `el3ctl trace set "
			                         "--file`, or by an el3d older than replay): it does not say how el3d was set up");
		if (i != 0)
			r_.notes.push_back(std::to_string(i) + " events before the first start event skipped");
		for (; i < events.size() && !r_.divergence; ++i)
			step(i, events[i]);
	}

private:
	void diverge(std::size_t i, const trace::Event& e, std::string what, std::string expected, std::string got)
	{
		r_.divergence = Divergence{i, e.seq, trace::describe(e), std::move(what), std::move(expected), std::move(got)};
	}

	void start(const trace::Event& e)
	{
		const Setup s = setup_from_json(e.config);
		CarveoutOpenRequest req = s.carveout;
		req.durability = Durability::Process;  // scratch: nothing here needs to survive a power cut
		if (!monitor_) {
			make_scratch();
			if (!o_.from_carveout.empty()) {
				copy_sparse(o_.from_carveout, path_);
			} else if (!s.created && (s.regions != 0 || s.activation > 1 || s.epoch > 1)) {
				r_.notes.push_back("the traced el3d started on a carveout that already held " + std::to_string(s.regions) +
				                   " regions (epoch " + std::to_string(s.epoch) + ", activation " +
				                   std::to_string(s.activation) +
				                   "); replayed on a fresh one it may differ: replay it on a snapshot of that carveout");
			}
		} else {
			// el3d was restarted on the same file: what it kept is what the file kept.
			monitor_.reset();
			++r_.restarts;
			req.reset = s.created;  // restarted with --reset
		}
		const std::string unseeded = "el3d ran without --seed: its keys and signatures were random, so memory the calls "
			                   "wrote may differ (--registers-only compares the registers alone)";
		if (!s.options.seed && std::find(r_.notes.begin(), r_.notes.end(), unseeded) == r_.notes.end())
			r_.notes.push_back(unseeded);
		snapshot_dir_ = !o_.snapshot_dir.empty() ? o_.snapshot_dir : snapshot::Store::default_dir(s.carveout_path);
		req.path = path_;
		// Injected answers (--inject-again's built-in rule included) come from the trace, not from rules.
		MonitorOptions options = s.options;
		options.inject_again = 0;
		monitor_ = std::make_unique<Monitor>(Carveout::open(req), std::move(options));
		monitor_->set_observer(&capture_);
	}

	void make_scratch()
	{
		std::string base = o_.work_dir;
		if (base.empty()) {
			const char* t = std::getenv("TMPDIR");
			base = t != nullptr && *t != '\0' ? t : "/tmp";
		}
		std::string tmpl = base + "/el3d-replay-XXXXXX";
		if (::mkdtemp(tmpl.data()) == nullptr)
			fail_errno("cannot make a scratch directory in " + base);
		dir_ = tmpl;
		path_ = dir_ + "/carveout.img";
	}

	void step(std::size_t i, const trace::Event& e)
	{
		if (e.kind == trace::Kind::Start)
			return start(e);
		switch (e.kind) {
		case trace::Kind::Smc: return smc(i, e);
		case trace::Kind::Entry: return entry(i, e);
		case trace::Kind::SessionOpen:
			try {
				monitor_->attach(e.cpu);
			} catch (const std::exception& x) {
				return diverge(i, e, "session", "opened", std::string("refused: ") + x.what());
			}
			++r_.sessions;
			return;
		case trace::Kind::SessionClose:
			monitor_->detach(e.cpu);
			++r_.sessions;
			return;
		case trace::Kind::Reset:
			monitor_->reset();
			++r_.resets;
			return;
		case trace::Kind::Rmi: ++r_.rmis; return;
		case trace::Kind::Snapshot: return snapshot(i, e);
		case trace::Kind::Start: return;
		}
	}

	// A restore is redone from the same snapshot (saves and removals change nothing el3d answers).
	void snapshot(std::size_t i, const trace::Event& e)
	{
		const std::string verb = "restore ";
		if (e.note.compare(0, verb.size(), verb) != 0)
			return;
		std::string name = e.note.substr(verb.size());
		if (auto sp = name.find(' '); sp != std::string::npos)
			name.resize(sp);  // "NAME (forced)"
		std::string path;
		try {
			path = snapshot::Store(snapshot_dir_).path_of(name);
		} catch (const std::exception& x) {
			return diverge(i, e, "snapshot", "a restore of '" + name + "'", x.what());
		}
		if (!std::filesystem::exists(path))
			return diverge(i, e, "snapshot", "a restore of snapshot '" + name + "'",
			               "no " + path + " (removed since, or elsewhere: --snapshot-dir)");
		try {
			monitor_->restore(path, true);
		} catch (const std::exception& x) {
			return diverge(i, e, "snapshot", "a restore of snapshot '" + name + "'", std::string("refused: ") + x.what());
		}
		++r_.restores;
	}

	void smc(std::size_t i, const trace::Event& e)
	{
		if (e.injected) {
			++r_.injected;
			return;
		}
		if (static_cast<uint32_t>(e.fid) == EL3_FID_RMM_RMI_REQ_COMPLETE) {
			++r_.rmis;
			return;
		}
		for (const auto& m : e.mem_in)
			if (!monitor_->write_memory(m.pa, m.bytes.data(), m.bytes.size()))
				return diverge(i, e, "memory read at " + hex(m.pa), std::to_string(m.bytes.size()) + " bytes in the image",
				               "outside this carveout's image");
		capture_ = Capture{};
		SmcResult out{};
		if (!monitor_->call(e.cpu, e.fid, e.in, out))
			return diverge(i, e, "cpu", "cpu " + std::to_string(e.cpu), "not a CPU of this platform");
		++r_.smcs;
		const uint32_t fid = static_cast<uint32_t>(e.fid);
		for (unsigned k = 0; k < out.size(); ++k)
			if (out[k] != e.out[k])
				return diverge(i, e, "x" + std::to_string(k),
				               hex(e.out[k]) + (k == 0 ? " (" + result_name(fid, e.out[0]) + ")" : ""),
				               hex(out[k]) + (k == 0 ? " (" + result_name(fid, out[0]) + ")" : ""));
		if (o_.registers_only)
			return;
		if (capture_.smc.effects != e.effects)
			return diverge(i, e, "effects", join(e.effects), join(capture_.smc.effects));
		const auto& got = capture_.smc.mem_out;
		for (std::size_t k = 0; k < std::max(got.size(), e.mem_out.size()); ++k) {
			const std::string exp_s = k < e.mem_out.size() ? std::to_string(e.mem_out[k].len) + " bytes at " +
			                                                     hex(e.mem_out[k].pa) + " sha256 " +
			                                                     digest_hex(e.mem_out[k].sha256)
			                                               : "nothing";
			const std::string got_s = k < got.size() ? std::to_string(got[k].len) + " bytes at " + hex(got[k].pa) +
			                                               " sha256 " + digest_hex(got[k].sha256)
			                                         : "nothing";
			if (exp_s != got_s)
				return diverge(i, e, "memory written", exp_s, got_s);
		}
	}

	void entry(std::size_t i, const trace::Event& e)
	{
		capture_ = Capture{};
		const EntryKind kind = e.fid == 1 ? EntryKind::Cold : EntryKind::Warm;
		Entry got;
		try {
			if (!e.config.is_null()) {
				const auto cfg = manifest::parse_boot_config(e.config.dump(), manifest::Format::Json,
				                                             monitor_->geometry().platform);
				got = monitor_->enter(e.cpu, kind, &cfg);
			} else {
				got = monitor_->enter(e.cpu, kind);
			}
		} catch (const std::exception& x) {
			return diverge(i, e, "entry", std::string(e.name) + " boot entry", std::string("refused: ") + x.what());
		}
		++r_.entries;
		if (e.injected) {
			// A fault rule broke this boot's manifest: the entry is made (it starts the activation), but
			// what the rule changed is not redone, so only the activation is compared.
			if (got.activation != e.activation)
				return diverge(i, e, "activation", std::to_string(e.activation), std::to_string(got.activation));
			return;
		}
		for (unsigned k = 0; k < got.regs.size(); ++k)
			if (got.regs[k] != e.out[k])
				return diverge(i, e, "entry x" + std::to_string(k), hex(e.out[k]), hex(got.regs[k]));
		if (got.activation != e.activation)
			return diverge(i, e, "activation", std::to_string(e.activation), std::to_string(got.activation));
	}

	const Options& o_;
	Report& r_;
	std::string dir_, path_, snapshot_dir_;
	Capture capture_;
	std::unique_ptr<Monitor> monitor_;
};

}  // namespace

Report run(const std::vector<trace::Event>& events, const Options& o)
{
	Report r;
	Replayer(o, r).run(events);
	return r;
}

std::string Report::format() const
{
	std::string s;
	for (const auto& n : notes)
		s += "note: " + n + "\n";
	if (divergence) {
		const Divergence& d = *divergence;
		s += "diverged at event #" + std::to_string(d.seq) + " (line " + std::to_string(d.index + 1) + " of the trace):\n";
		s += "  " + d.event + "\n";
		s += "  " + d.what + ": expected " + d.expected + ", got " + d.got + "\n";
	} else {
		s += "identical";
	}
	std::string counts = std::to_string(smcs) + " SMCs, " + std::to_string(entries) + " boot entries, " +
	                     std::to_string(sessions) + " session events, " + std::to_string(resets) + " resets, " +
	                     std::to_string(restarts) + " restarts" +
	                     (restores != 0 ? ", " + std::to_string(restores) + " snapshot restores" : std::string()) +
	                     " replayed";
	if (injected != 0)
		counts += "; " + std::to_string(injected) + " injected faults answered as recorded";
	if (rmis != 0)
		counts += "; " + std::to_string(rmis) + " RMI events not replayed (the Non-secure side)";
	s += (divergence ? "  after " : ": ") + counts + "\n";
	return s;
}

nlohmann::json Report::to_json() const
{
	nlohmann::json j = {{"identical", identical()}, {"smcs", smcs},         {"entries", entries},
	                    {"sessions", sessions},     {"resets", resets},     {"restarts", restarts}, {"restores", restores},
	                    {"injected", injected},     {"rmis", rmis},         {"notes", notes}};
	if (divergence)
		j["divergence"] = {{"index", divergence->index}, {"seq", divergence->seq},       {"event", divergence->event},
		                   {"what", divergence->what},   {"expected", divergence->expected}, {"got", divergence->got}};
	return j;
}

}  // namespace el3d::replay
