#include "commands.hpp"

#include "el3d/faults/faults.hpp"

#include "el3d/manifest/boot_config.hpp"
#include "el3d/monitor/names.hpp"
#include "el3d/util/numbers.hpp"
#include "status_view.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

namespace el3d::cli {

namespace {
constexpr uint64_t kChunk = 4u << 20;  // the daemon's per-call limit
}

bool Session::connect()
{
	if (stub)
		return true;
	struct stat st {};
	if (::stat(socket.c_str(), &st) != 0) {
		*err << "el3ctl: no el3d socket at " << socket
		     << " (is the daemon running? start it with `el3d`, or point --socket / EL3D_SOCKET at it)\n";
		return false;
	}
	grpc::ChannelArguments args;
	args.SetMaxReceiveMessageSize(8 << 20);
	args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
	stub = v1::Monitor::NewStub(grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args));
	return true;
}

grpc::Status Session::get_state(v1::State& state)
{
	auto ctx = context();
	return stub->GetState(ctx.get(), v1::GetStateRequest{}, &state);
}

std::unique_ptr<grpc::ClientContext> Session::context() const
{
	auto ctx = std::make_unique<grpc::ClientContext>();
	ctx->set_deadline(std::chrono::system_clock::now() + timeout);
	return ctx;
}

// What a failed connection to the socket means, in words: gRPC's own text names its resolver and
// subchannels. A plain connect() tells a stale socket (nobody listens) from a permission problem.
std::string Session::why_unreachable(const grpc::Status& s) const
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (socket.size() >= sizeof(addr.sun_path))
		return "the socket path is longer than " + std::to_string(sizeof(addr.sun_path) - 1) + " bytes";
	std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
	int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
	const int e = errno;
	if (fd >= 0)
		::close(fd);
	if (rc != 0 && e == ECONNREFUSED)
		return "nothing listens on it (a stale socket left by an el3d that ended? starting el3d replaces it)";
	if (rc != 0 && (e == EACCES || e == EPERM))
		return "permission denied (the socket belongs to another user)";
	if (rc != 0)
		return std::strerror(e);
	return "el3d did not answer on the connection (" + s.error_message() + ")";
}

int Session::fail(const grpc::Status& s, const std::string& what)
{
	switch (s.error_code()) {
	case grpc::StatusCode::UNAVAILABLE:
		*err << "el3ctl: cannot reach el3d at " << socket << ": " << why_unreachable(s) << "\n";
		return kUnreachable;
	case grpc::StatusCode::DEADLINE_EXCEEDED:
		*err << "el3ctl: " << what << ": el3d at " << socket << " did not answer within "
		     << std::chrono::duration<double>(timeout).count() << " s (--timeout)\n";
		return kUnreachable;
	case grpc::StatusCode::INVALID_ARGUMENT:
	case grpc::StatusCode::OUT_OF_RANGE:
		*err << "el3ctl: " << what << ": " << s.error_message() << "\n";
		return kUsage;
	default:
		*err << "el3ctl: " << what << " failed: " << s.error_message() << "\n";
		return kUnreachable;
	}
}

std::optional<uint64_t> parse_register(const std::string& s)
{
	if (!s.empty() && s[0] == '-') {
		auto v = parse_u64(s.substr(1));
		if (!v || *v > (uint64_t{1} << 63))
			return std::nullopt;
		return ~*v + 1;
	}
	return parse_u64(s);
}

bool parse_call(Session& s, const char* cmd, const std::string& fid, const std::vector<std::string>& args,
                uint64_t& f, uint64_t* x)
{
	auto v = parse_register(fid);
	if (!v) {
		// A name: RMM_GTSI_DELEGATE, FIRME_GM_GPI_SET, SMCCC_VERSION, RMI_VERSION, ...
		const auto named = faults::parse_fid(fid);
		if (!named) {
			*s.err << "el3ctl " << cmd << ": FID '" << fid << "' is neither a number nor a FID name "
			       << "(e.g. RMM_GTSI_DELEGATE; docs/abi.md lists them)\n";
			return false;
		}
		v = *named;
	}
	f = *v;
	for (std::size_t i = 0; i < args.size(); ++i) {
		v = parse_register(args[i]);
		if (!v) {
			*s.err << "el3ctl " << cmd << ": x" << i + 1 << " '" << args[i] << "' is not a number\n";
			return false;
		}
		x[i] = *v;
	}
	return true;
}

int cmd_smc(Session& s, uint32_t cpu, const std::string& fid, const std::vector<std::string>& args, bool raw)
{
	if (args.size() > 12) {
		*s.err << "el3ctl smc: at most 12 argument registers (x1..x12), got " << args.size() << "\n";
		return kUsage;
	}
	uint64_t f = 0, x[12] = {};
	if (!parse_call(s, "smc", fid, args, f, x))
		return kUsage;
	v1::SmcRequest req;
	req.set_cpu(cpu);
	req.set_fid(f);
	req.set_x1(x[0]), req.set_x2(x[1]), req.set_x3(x[2]), req.set_x4(x[3]), req.set_x5(x[4]), req.set_x6(x[5]);
	req.set_x7(x[6]), req.set_x8(x[7]), req.set_x9(x[8]), req.set_x10(x[9]), req.set_x11(x[10]), req.set_x12(x[11]);
	if (!s.connect())
		return kUnreachable;
	v1::SmcResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->Smc(ctx.get(), req, &resp);
	if (!st.ok())
		return s.fail(st, "smc");
	std::string line = registers_line(resp);
	if (!raw && !resp.result_name().empty())  // x0 by name, after x0
		line.insert(line.find(' '), " (" + resp.result_name() + ")");
	*s.out << line << "\n";
	if (!resp.reason().empty())  // why x0 is an error, as el3d logged it
		*s.err << "el3ctl smc: " << resp.result_name() << ": el3d says: " << resp.reason() << "\n";
	return kOk;
}

int cmd_alloc(Session& s, uint32_t cpu, const std::string& size, unsigned align_bits, unsigned id)
{
	auto sz = parse_u64(size);
	if (!sz) {
		*s.err << "el3ctl alloc: size '" << size << "' is not a number\n";
		return kUsage;
	}
	if (!s.connect())
		return kUnreachable;
	v1::AllocateMemoryRequest req;
	req.set_cpu(cpu);
	req.set_size(*sz);
	req.set_align_bits(align_bits);
	req.set_id(id);
	v1::AllocateMemoryResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->AllocateMemory(ctx.get(), req, &resp);
	if (!st.ok())
		return s.fail(st, "alloc");
	if (resp.result() < 0) {
		*s.err << "el3ctl alloc: RMM_ALLOCATE_MEMORY returned " << resp.result_name()
		       << " (x0=" << hex64(static_cast<uint64_t>(resp.result())) << ")"
		       << (resp.reason().empty() ? "" : ": el3d says: " + resp.reason());
		if (resp.result() == -1 && resp.reason().find("not implemented by the") != std::string::npos)
			*s.err << "; under the tfa ABIs the RMM reserves memory with RMM_RESERVE_MEMORY: `el3ctl reserve`";
		*s.err << "\n";
		return kSmcError;
	}
	*s.out << "addr=" << hex64(resp.address()) << " size=" << hex(*sz) << " id=" << id
	       << (resp.fresh() ? " fresh" : " existing") << "\n";
	return kOk;
}

int cmd_mem_read(Session& s, const std::string& addr, const std::string& len, bool dump)
{
	auto a = parse_u64(addr);
	auto l = parse_u64(len);
	if (!a || !l) {
		*s.err << "el3ctl mem read: ADDR and LEN must be numbers\n";
		return kUsage;
	}
	if (!s.connect())
		return kUnreachable;
	std::string data;
	for (uint64_t done = 0; done < *l;) {
		v1::ReadMemoryRequest req;
		req.set_address(*a + done);
		req.set_length(std::min(kChunk, *l - done));
		v1::ReadMemoryResponse resp;
		auto ctx = s.context();
		grpc::Status st = s.stub->ReadMemory(ctx.get(), req, &resp);
		if (!st.ok() && *l > kChunk)  // name the whole range asked for, not the piece that failed
			return s.fail(st, "mem read [" + hex(*a) + ", +" + hex(*l) + ") in pieces of 4 MiB, the piece at +" +
			                      hex(done));
		if (!st.ok())
			return s.fail(st, "mem read");
		data += resp.data();
		done += req.length();
	}
	if (dump)
		*s.out << hexdump(*a, data);
	else
		*s.out << to_hex(reinterpret_cast<const uint8_t*>(data.data()), data.size()) << "\n";
	return kOk;
}

// Why `text` is not a string of bytes in hex (from_hex refused it).
static std::string hex_problem(const std::string& text)
{
	std::string_view digits = text;
	if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits.remove_prefix(2);
	for (std::size_t i = 0; i < digits.size(); ++i)
		if (!std::isxdigit(static_cast<unsigned char>(digits[i])))
			return "'" + std::string(1, digits[i]) + "' at position " + std::to_string(i + 1) +
			       " is not a hex digit (0-9, a-f)";
	return std::to_string(digits.size()) + " hex digits: bytes take two each (e.g. 0a0b, not a0b)";
}

int cmd_mem_write(Session& s, const std::string& addr, const std::string& hexdata)
{
	auto a = parse_u64(addr);
	if (!a) {
		*s.err << "el3ctl mem write: ADDR '" << addr << "' is not a number\n";
		return kUsage;
	}
	auto bytes = from_hex(hexdata);
	if (!bytes) {
		*s.err << "el3ctl mem write: HEX '" << hexdata << "': " << hex_problem(hexdata) << "\n";
		return kUsage;
	}
	if (!s.connect())
		return kUnreachable;
	for (uint64_t done = 0; done < bytes->size() || (done == 0 && bytes->empty());) {
		const uint64_t n = std::min<uint64_t>(kChunk, bytes->size() - done);
		v1::WriteMemoryRequest req;
		req.set_address(*a + done);
		req.set_data(bytes->data() + done, n);
		v1::WriteMemoryResponse resp;
		auto ctx = s.context();
		grpc::Status st = s.stub->WriteMemory(ctx.get(), req, &resp);
		if (!st.ok())
			return s.fail(st, "mem write");
		done += n;
		if (bytes->empty())
			break;
	}
	return kOk;
}

int cmd_reset(Session& s)
{
	if (!s.connect())
		return kUnreachable;
	v1::ResetResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->Reset(ctx.get(), v1::ResetRequest{}, &resp);
	if (!st.ok())
		return s.fail(st, "reset");
	*s.out << "carveout reset: every region and boot state forgotten\n";
	return kOk;
}

int cmd_status(Session& s, bool json)
{
	if (!s.connect())
		return kUnreachable;
	v1::State state;
	if (grpc::Status st = s.get_state(state); !st.ok())
		return s.fail(st, "status");
	if (json)
		*s.out << state_json(state).dump(2) << "\n";
	else
		*s.out << state_text(state);
	return kOk;
}

int cmd_wait(Session& s, double seconds)
{
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no socket yet");
	while (std::chrono::steady_clock::now() < deadline) {
		struct stat st {};
		if (::stat(s.socket.c_str(), &st) == 0 && s.connect()) {
			v1::State state;
			auto ctx = s.context();
			ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
			last = s.stub->GetState(ctx.get(), v1::GetStateRequest{}, &state);
			if (last.ok()) {
				*s.out << "el3d is up at " << s.socket << " (pid " << state.daemon_pid() << ")\n";
				return kOk;
			}
			s.stub.reset();
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	*s.err << "el3ctl wait: el3d did not answer at " << s.socket << " within " << seconds
	       << " s: " << last.error_message() << "\n";
	return kUnreachable;
}

}  // namespace el3d::cli

namespace el3d::cli {

int cmd_boot(Session& s, uint32_t cpu, const std::string& kind, const std::string& config_path)
{
	v1::BootRequest req;
	req.set_cpu(cpu);
	req.set_kind(kind == "cold" ? v1::ENTRY_KIND_COLD : kind == "warm" ? v1::ENTRY_KIND_WARM : v1::ENTRY_KIND_AUTO);
	if (!config_path.empty()) {
		std::ifstream in(config_path);
		if (!in) {
			*s.err << "el3ctl boot: cannot read " << config_path << "\n";
			return kUsage;
		}
		std::ostringstream text;
		text << in.rdbuf();
		req.set_config(text.str());
		const bool toml = config_path.size() >= 5 && config_path.compare(config_path.size() - 5, 5, ".toml") == 0;
		req.set_config_format(toml ? "toml" : "json");
	}
	if (!s.connect())
		return kUnreachable;
	v1::BootResponse resp;
	auto ctx = s.context();
	grpc::Status st = s.stub->Boot(ctx.get(), req, &resp);
	if (!st.ok()) {
		if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
			*s.err << "el3ctl boot: " << st.error_message() << "\n";
			return kSmcError;
		}
		return s.fail(st, "boot");
	}
	*s.out << registers_line(resp) << "\n";
	return kOk;
}

}  // namespace el3d::cli
