// el3ctl trace: follow el3d's SMC trace live, print a trace file decoded with a summary, or change
// where el3d records it.
#include "commands.hpp"
#include "el3d/trace/trace.hpp"

#include <ostream>

namespace el3d::cli {

int cmd_trace_follow(Session& s, const TraceFollow& t)
{
	v1::TraceRequest req;
	if (t.cpu)
		req.set_cpu(*t.cpu);
	if (!t.fid.empty()) {
		auto f = parse_register(t.fid);
		if (!f || *f > 0xffffffffu) {
			*s.err << "el3ctl trace: FID '" << t.fid << "' is not a 32-bit number\n";
			return kUsage;
		}
		req.set_fid(static_cast<uint32_t>(*f));
	}
	req.set_result(t.result);
	req.set_ring(t.ring);
	req.set_count(t.count);
	if (!s.connect())
		return kUnreachable;
	grpc::ClientContext ctx;  // no deadline: it follows until --count events or Ctrl-C
	auto reader = s.stub->Trace(&ctx, req);
	v1::TraceLine line;
	uint64_t lost = 0;
	while (reader->Read(&line)) {
		if (line.lost() > lost) {
			*s.err << "el3ctl trace: " << line.lost() - lost << " events lost (this listener fell behind)\n";
			lost = line.lost();
		}
		if (t.json) {
			*s.out << line.json() << "\n";
		} else {
			try {
				*s.out << trace::describe(trace::from_json(nlohmann::json::parse(line.json()))) << "\n";
			} catch (const std::exception& e) {
				*s.err << "el3ctl trace: cannot decode an event: " << e.what() << "\n";
				return kUnreachable;
			}
		}
		s.out->flush();
	}
	grpc::Status st = reader->Finish();
	if (!st.ok())
		return s.fail(st, "trace");
	return kOk;
}

int cmd_trace_show(Session& s, const std::string& path, bool json, bool summary_only)
{
	trace::FileContents f;
	try {
		f = trace::read_file(path);
	} catch (const std::exception& e) {
		*s.err << "el3ctl trace show: " << e.what() << "\n";
		return kUsage;
	}
	if (!summary_only)
		for (const trace::Event& e : f.events)
			*s.out << (json ? trace::to_json(e).dump() : trace::describe(e)) << "\n";
	if (!json)
		*s.out << (summary_only ? "" : "\n") << trace::format_summary(trace::summarize(f.events));
	if (f.truncated_tail)
		*s.err << "el3ctl trace show: the last line of " << path
		       << " is cut short (el3d was killed while writing it); it is left out\n";
	return kOk;
}

int cmd_trace_set(Session& s, const std::optional<std::string>& file, bool off, std::optional<uint64_t> ring)
{
	v1::SetTraceRequest req;
	if (file || off) {
		req.set_set_file(true);
		req.set_file(off ? "" : *file);
	}
	if (ring) {
		req.set_set_ring(true);
		req.set_ring(*ring);
	}
	if (!s.connect())
		return kUnreachable;
	v1::TraceConfig c;
	auto ctx = s.context();
	grpc::Status st = s.stub->SetTrace(ctx.get(), req, &c);
	if (!st.ok())
		return s.fail(st, "trace set");
	*s.out << "trace file: " << (c.file().empty() ? "off" : c.file()) << "; ring: " << c.ring()
	       << " events; recorded since el3d started: " << c.recorded() << "\n";
	return kOk;
}

}  // namespace el3d::cli
