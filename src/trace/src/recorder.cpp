#include "el3d/trace/recorder.hpp"

#include "el3d/monitor/names.hpp"

namespace el3d::trace {

void MonitorRecorder::on_smc(const SmcRecord& r)
{
	if (!t_.enabled())
		return;
	Event e;
	e.kind = Kind::Smc;
	e.cpu = r.cpu;
	e.activation = r.activation;
	e.fid = r.fid;
	e.name = fid_name(r.fid);
	e.in = r.in;
	e.out = r.out;
	e.result = result_name(r.fid, r.out[0]);
	e.duration_ns = static_cast<uint64_t>(r.duration.count());
	e.effects = r.effects;
	for (const auto& m : r.mem_in)
		e.mem_in.push_back({m.pa, m.bytes});
	for (const auto& m : r.mem_out)
		e.mem_out.push_back({m.pa, m.len, m.sha256});
	e.injected = !r.injected_by.empty();
	e.note = r.note;
	if (r.note.rfind("session killed", 0) == 0)
		e.result = "killed";
	t_.record(std::move(e));
}

void MonitorRecorder::on_entry(uint32_t cpu, const Entry& en)
{
	if (!t_.enabled())
		return;
	Event e;
	e.kind = Kind::Entry;
	e.cpu = cpu;
	e.activation = en.activation;
	e.fid = en.kind == EntryKind::Cold ? 1 : 2;
	e.name = en.kind == EntryKind::Cold ? "cold" : "warm";
	e.out = en.regs;
	if (!en.config_json.empty())
		e.config = nlohmann::json::parse(en.config_json);
	if (en.manifest_size != 0)
		e.effects.push_back("boot manifest " + std::to_string(en.manifest_size) + " bytes");
	if (!en.injected_by.empty()) {
		e.injected = true;
		e.note = "boot manifest faults injected by fault rule " + en.injected_by;
	}
	t_.record(std::move(e));
}

}  // namespace el3d::trace
