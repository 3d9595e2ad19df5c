// el3ctl rmi: one RMI from the Non-secure world, through el3d's world switch to the RMM serving
// the CPU.
#include "commands.hpp"
#include "status_view.hpp"

#include <ostream>

namespace el3d::cli {

int cmd_rmi(Session& s, uint32_t cpu, const std::string& fid, const std::vector<std::string>& args, bool fail_fast)
{
	if (args.size() > 7) {
		*s.err << "el3ctl rmi: at most 7 argument registers (x1..x7: what EL3 forwards), got " << args.size() << "\n";
		return kUsage;
	}
	uint64_t f = 0, x[7] = {};
	if (!parse_call(s, "rmi", fid, args, f, x))
		return kUsage;
	v1::RmiRequest req;
	req.set_cpu(cpu);
	req.set_fid(f);
	req.set_x1(x[0]), req.set_x2(x[1]), req.set_x3(x[2]), req.set_x4(x[3]), req.set_x5(x[4]), req.set_x6(x[5]);
	req.set_x7(x[6]);
	req.set_fail_fast(fail_fast);
	if (!s.connect())
		return kUnreachable;
	v1::RmiResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->Rmi(ctx.get(), req, &resp);
	if (!st.ok()) {
		// The daemon answered, but the world switch could not complete the RMI: no RMM to take it
		// (fail-fast), a full queue, or the RMM went away while it held it.
		const bool not_completed = st.error_code() == grpc::StatusCode::ABORTED ||
		                           st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
		                           (st.error_code() == grpc::StatusCode::UNAVAILABLE &&
		                            st.error_message().find("fail_fast") != std::string::npos);
		if (not_completed) {
			*s.err << "el3ctl rmi: " << st.error_message() << "\n";
			return kSmcError;
		}
		if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
			*s.err << "el3ctl rmi: no answer within --timeout: no RMM completed the RMI (is one serving cpu " << cpu
			       << "?), or el3d does not answer\n";
			return kUnreachable;
		}
		return s.fail(st, "rmi");
	}
	*s.out << registers_line(resp) << (resp.forwarded() ? "" : "  (answered by EL3: not forwarded to the RMM)") << "\n";
	return kOk;
}

}  // namespace el3d::cli
