// el3ctl manifest: the Boot Manifest in the shared page, checked as an RMM would check it, or, once the RMM
// has reused the page, what it holds now and the manifest el3d writes there at a cold boot.
#include "commands.hpp"

#include "el3d/manifest/boot_config.hpp"
#include "el3d/monitor/names.hpp"
#include "el3d/util/numbers.hpp"

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace el3d::cli {

namespace {

// What the shared page holds when it is not a Boot Manifest: the RMM reuses the page for its runtime
// calls once it has read the manifest (the platform token, the realm key, token-sign requests).
std::string describe_reused_page(std::span<const uint8_t> page)
{
	std::size_t used = page.size();
	while (used > 0 && page[used - 1] == 0)
		--used;
	if (used == 0)
		return "zeros";
	std::string what = std::to_string(used) + " bytes";
	if (page[0] == 0xD2)  // CBOR tag 18: COSE_Sign1, the platform token el3d signs
		what += ", starting with a COSE_Sign1 message (CBOR tag 18), e.g. the platform token";
	else if (page.size() > 2 && page[0] == 0xD9 && page[1] == 0x01 && page[2] == 0x8F)  // tag 399
		what += ", starting with a CCA attestation token (CBOR tag 399)";
	return what;
}

// Whether the page can be a Boot Manifest at all, valid or not (a deliberately broken one, a boot
// configuration of one session): version 0.x, zero padding, the DRAM bank pointer 0 or inside the page.
bool looks_like_manifest(std::span<const uint8_t> page, uint64_t shared_base)
{
	if (page.size() < 32 || std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0; }))
		return false;
	uint32_t version = 0, padding = 0;
	uint64_t banks = 0;
	std::memcpy(&version, page.data(), 4);
	std::memcpy(&padding, page.data() + 4, 4);
	std::memcpy(&banks, page.data() + 24, 8);
	return (version >> 16) == 0 && (version & 0xFFFF) < 0x100 && padding == 0 &&
	       (banks == 0 || (banks >= shared_base && banks - shared_base < page.size()));
}

// The page el3d writes at a cold boot with its own boot configuration (empty if it cannot be rebuilt).
std::vector<uint8_t> daemon_manifest(const v1::State& state)
{
	try {
		const manifest::BootConfig cfg =
		    manifest::parse_boot_config(state.boot_config(), manifest::Format::Json, state.platform());
		return manifest::build_manifest(cfg, state.shared_base(), state.shared_size());
	} catch (const std::exception&) {
		return {};
	}
}

void print_manifest(std::ostream& out, const manifest::Spec& spec)
{
	out << "  version " << manifest::version_major(spec.version) << "." << manifest::version_minor(spec.version)
	    << "\n";
	auto banks = [&](const char* name, const std::vector<manifest::Bank>& b) {
		out << "  " << name << ": " << b.size() << (b.size() == 1 ? " bank" : " banks") << "\n";
		for (const auto& x : b)
			out << "    " << hex64(x.base) << " + " << hex(x.size) << " (" << human_size(x.size) << ")\n";
	};
	banks("DRAM", spec.dram);
	banks("non-coherent device memory", spec.ncoh);
	banks("coherent device memory", spec.coh);
	for (const auto& c : spec.consoles)
		out << "  console " << c.name << " at " << hex(c.base) << ", " << c.baud_rate << " baud, clock " << c.clk_in_hz
		    << " Hz\n";
	for (const auto& m : spec.smmus)
		out << "  SMMU at " << hex(m.base) << " (Realm registers at " << hex(m.r_base) << ")\n";
	for (const auto& rc : spec.root_complexes)
		out << "  PCIe root complex: ECAM " << hex(rc.ecam_base) << ", segment " << unsigned(rc.segment) << ", "
		    << rc.ports.size() << " root ports\n";
}

}  // namespace

int cmd_manifest(Session& s, bool json)
{
	if (!s.connect())
		return kUnreachable;
	v1::State state;
	if (grpc::Status st = s.get_state(state); !st.ok())
		return s.fail(st, "manifest");
	v1::ReadMemoryRequest req;
	req.set_address(state.shared_base());
	req.set_length(state.shared_size());
	v1::ReadMemoryResponse page;
	auto ctx = s.context();
	grpc::Status st = s.stub->ReadMemory(ctx.get(), req, &page);
	if (!st.ok())
		return s.fail(st, "manifest");
	std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(page.data().data()), page.data().size());
	manifest::Validation v = manifest::validate_manifest(bytes, state.shared_base(), state.pa_bits());

	// After its boot the RMM reuses the shared page: if the page no longer holds what el3d wrote, say so and
	// show the Boot Manifest el3d writes at a cold boot instead of decoding (say) a platform token as one.
	std::string reused;
	const std::vector<uint8_t> written = daemon_manifest(state);
	if (!v.ok() && !written.empty() && !looks_like_manifest(bytes, state.shared_base()) &&
	    (bytes.size() < written.size() || !std::equal(written.begin(), written.end(), bytes.begin()))) {
		reused = describe_reused_page(bytes);
		bytes = written;
		v = manifest::validate_manifest(bytes, state.shared_base(), state.pa_bits());
	}
	std::optional<manifest::Spec> spec;
	std::string decode_error;
	try {
		spec = manifest::decode_manifest(bytes, state.shared_base());
	} catch (const std::exception& e) {
		decode_error = e.what();
	}
	if (json) {
		nlohmann::json problems = nlohmann::json::array();
		for (const auto& p : v.problems)
			problems.push_back({{"kind", p.kind}, {"code", p.code}, {"message", p.message}});
		nlohmann::json j = {{"shared_base", state.shared_base()}, {"valid", v.ok()}, {"boot_error", v.boot_error()},
		                    {"problems", problems}, {"page", reused.empty() ? "manifest" : "reused"}};
		if (!reused.empty())
			j["page_holds"] = reused;
		if (spec) {
			manifest::BootConfig c;
			c.manifest = *spec;
			j["manifest"] = nlohmann::json::parse(manifest::to_json(c))["manifest"];
		}
		*s.out << j.dump(2) << "\n";
	} else {
		if (!reused.empty())
			*s.out << "The shared page at " << hex64(state.shared_base())
			       << " no longer holds the Boot Manifest: the RMM has reused it since the last cold boot (it holds "
			       << reused << ").\nThe Boot Manifest el3d writes there at a cold boot:\n";
		else
			*s.out << "Boot Manifest at " << hex64(state.shared_base()) << "\n";
		if (spec)
			print_manifest(*s.out, *spec);
		else
			*s.out << "  cannot decode: " << decode_error << "\n";
		if (v.ok())
			*s.out << "valid: an RMM accepts this manifest\n";
		else
			*s.out << "INVALID: an RMM reports " << boot_result_name(v.boot_error()) << "\n" << v.describe();
	}
	return v.ok() ? kOk : kSmcError;
}

}  // namespace el3d::cli
