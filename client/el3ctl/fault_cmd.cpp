// el3ctl fault: fault rules in a running el3d (docs/faults.md). The options become the rule's JSON form, which el3d
// checks (FID and result names, the results the FID may return under its ABI profile) and answers with what it holds.
#include "commands.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace el3d::cli {

int cmd_fault_add(Session& s, const FaultAdd& f)
{
	nlohmann::json j = nlohmann::json::object();
	if (!f.id.empty())
		j["id"] = f.id;
	if (f.on_entry)
		j["on"] = "entry";
	if (!f.fid.empty())
		j["fid"] = f.fid;  // a name or a number: el3d resolves both
	if (f.cpu)
		j["cpu"] = *f.cpu;
	if (f.nth)
		j["nth"] = *f.nth;
	if (f.every)
		j["every"] = *f.every;
	if (f.probability)
		j["probability"] = *f.probability;
	if (f.seed)
		j["seed"] = *f.seed;
	if (!f.cycle.empty()) {
		if (f.cycle.size() != 2) {
			*s.err << "el3ctl fault add: --cycle takes two numbers: FIRE PASS\n";
			return kUsage;
		}
		j["cycle"] = {{"fire", f.cycle[0]}, {"pass", f.cycle[1]}};
	}
	if (!f.when.empty())
		j["when"] = f.when;
	if (f.times)
		j["times"] = *f.times;
	if (!f.result.empty())
		j["result"] = f.result;
	if (f.delay_ms)
		j["delay_ms"] = *f.delay_ms;
	if (f.kill)
		j["kill"] = true;
	if (!f.manifest.empty())
		j["manifest"] = f.manifest;
	if (!s.connect())
		return kUnreachable;
	v1::AddFaultRequest req;
	req.set_rule_json(j.dump());
	v1::FaultRule resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->AddFault(ctx.get(), req, &resp);
	if (!st.ok())
		return s.fail(st, "fault add");
	*s.out << resp.description() << "\n";
	return kOk;
}

int cmd_fault_list(Session& s, bool json)
{
	if (!s.connect())
		return kUnreachable;
	v1::ListFaultsResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->ListFaults(ctx.get(), v1::ListFaultsRequest{}, &resp);
	if (!st.ok())
		return s.fail(st, "fault list");
	if (json) {
		nlohmann::json out = nlohmann::json::array();
		for (const v1::FaultRule& r : resp.rules()) {
			nlohmann::json e = nlohmann::json::parse(r.rule_json());
			e["matched"] = r.matched();
			e["fired"] = r.fired();
			out.push_back(e);
		}
		*s.out << out.dump(2) << "\n";
		return kOk;
	}
	if (resp.rules().empty())
		*s.out << "no fault rules\n";
	for (const v1::FaultRule& r : resp.rules())
		*s.out << r.description() << "  [picked " << r.matched() << ", fired " << r.fired() << "]\n";
	return kOk;
}

int cmd_fault_clear(Session& s, const std::string& id)
{
	if (!s.connect())
		return kUnreachable;
	v1::ClearFaultsRequest req;
	req.set_id(id);
	v1::ClearFaultsResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->ClearFaults(ctx.get(), req, &resp);
	if (!st.ok())
		return s.fail(st, "fault clear");
	*s.out << resp.cleared() << " fault rule" << (resp.cleared() == 1 ? "" : "s") << " cleared\n";
	return kOk;
}

}  // namespace el3d::cli
