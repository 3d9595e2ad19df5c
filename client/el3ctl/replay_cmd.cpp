// el3ctl replay: re-issue a trace's calls against a fresh carveout (or a copy of a snapshot) in
// process, and print the first divergence or "identical". No daemon needed.
#include "commands.hpp"
#include "el3d/replay/replay.hpp"
#include "el3d/snapshot/store.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <ostream>

namespace el3d::cli {

int cmd_replay(Session& s, const ReplayArgs& a)
{
	trace::FileContents f;
	try {
		f = trace::read_file(a.trace);
	} catch (const std::exception& e) {
		*s.err << "el3ctl replay: " << e.what() << "\n";
		return kUsage;
	}
	replay::Options o;
	o.registers_only = a.registers_only;
	o.from_carveout = a.carveout;
	o.snapshot_dir = a.snapshot_dir;
	if (!a.snapshot.empty()) {
		// A snapshot of the traced el3d's carveout: <carveout>.snapshots/NAME/carveout.img unless
		// --snapshot-dir says where they are.
		std::string dir = a.snapshot_dir;
		if (dir.empty())
			for (const auto& e : f.events)
				if (e.kind == trace::Kind::Start) {
					dir = snapshot::Store::default_dir(
					    e.config.value("carveout", nlohmann::json::object()).value("path", ""));
					break;
				}
		try {
			o.from_carveout = snapshot::Store(dir).path_of(a.snapshot);
		} catch (const std::exception& e) {
			*s.err << "el3ctl replay: " << e.what() << "\n";
			return kUsage;
		}
	}
	// The monitor's own log goes to stderr and only its warnings (stdout is the report).
	auto log = spdlog::stderr_color_mt("replay");
	log->set_pattern("replay: %l: %v");
	spdlog::set_default_logger(log);
	spdlog::set_level(spdlog::level::warn);
	replay::Report r;
	try {
		r = replay::run(f.events, o);
	} catch (const std::exception& e) {
		*s.err << "el3ctl replay: " << e.what() << "\n";
		return kUsage;
	}
	if (f.truncated_tail)
		*s.err << "el3ctl replay: the last line of " << a.trace << " is cut short (el3d was killed while writing it); "
		       << "it is left out\n";
	if (a.json)
		*s.out << r.to_json().dump(2) << "\n";
	else
		*s.out << r.format();
	return r.identical() ? kOk : kSmcError;
}

}  // namespace el3d::cli
