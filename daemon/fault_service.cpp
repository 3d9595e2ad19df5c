// Fault injection over the API: AddFault, ListFaults, ClearFaults. The rules live in the monitor's Injector; this
// only moves them between JSON and protobuf, and bounds what a client may send.
#include "service.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

using grpc::Status;
using grpc::StatusCode;

namespace {

constexpr std::size_t kMaxRuleJson = 64u << 10;

void to_proto(const faults::RuleStatus& s, v1::FaultRule& out)
{
	out.set_id(s.rule.id);
	out.set_rule_json(faults::to_json(s.rule).dump());
	out.set_description(faults::describe(s.rule));
	out.set_matched(s.matched);
	out.set_fired(s.fired);
}

}  // namespace

Status MonitorService::AddFault(grpc::ServerContext* ctx, const v1::AddFaultRequest* req, v1::FaultRule* resp)
{
	if (req->rule_json().size() > kMaxRuleJson)
		return {StatusCode::INVALID_ARGUMENT, "a rule is at most " + std::to_string(kMaxRuleJson) + " bytes of JSON"};
	faults::Injector& in = monitor_.faults();
	std::string id;
	try {
		// The bounded reader (size, UTF-8, nesting) first: the text comes from any client of the socket.
		const std::vector<faults::Rule> rules = faults::parse_rules("[" + req->rule_json() + "]", false);
		if (rules.size() != 1)
			return {StatusCode::INVALID_ARGUMENT, "rule_json must hold exactly one rule (a JSON object)"};
		if (in.list().size() >= faults::kMaxRules)
			return {StatusCode::RESOURCE_EXHAUSTED, "at most " + std::to_string(faults::kMaxRules) +
			                                            " fault rules; clear some first"};
		id = in.add(rules.front());
	} catch (const faults::RuleError& e) {
		return {StatusCode::INVALID_ARGUMENT, e.what()};
	}
	for (const faults::RuleStatus& s : in.list())
		if (s.rule.id == id) {
			to_proto(s, *resp);
			spdlog::info("fault rule {} (added by {})", resp->description(), ctx->peer());
			return Status::OK;
		}
	return {StatusCode::ABORTED, "rule " + id + " was cleared while it was being added"};
}

Status MonitorService::ListFaults(grpc::ServerContext*, const v1::ListFaultsRequest*, v1::ListFaultsResponse* resp)
{
	for (const faults::RuleStatus& s : monitor_.faults().list())
		to_proto(s, *resp->add_rules());
	return Status::OK;
}

Status MonitorService::ClearFaults(grpc::ServerContext* ctx, const v1::ClearFaultsRequest* req,
                                   v1::ClearFaultsResponse* resp)
{
	const std::size_t n = monitor_.faults().clear(req->id());
	if (!req->id().empty() && n == 0)
		return {StatusCode::NOT_FOUND, "no fault rule with id '" + req->id().substr(0, 64) + "'"};
	resp->set_cleared(n);
	spdlog::info("{} fault rule{} cleared{} by {}", n, n == 1 ? "" : "s", req->id().empty() ? "" : " (" + req->id() + ")",
	             ctx->peer());
	return Status::OK;
}

}  // namespace el3d
