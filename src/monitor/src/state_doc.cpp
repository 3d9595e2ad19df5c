// The monitor's state document (what Carveout::commit_state_cbor() persists), written straight as CBOR: a commit
// follows every state-changing SMC, and building a JSON tree for each cost more than the SMC itself. The
// document's shape is what Monitor::Impl::Impl() and reload_after_restore() read back (docs/persistence.md):
//
//   {"boot": {"activation", "started", "cpus": [{"cpu", "state", "result", "completions", "token", "entries",
//             "entered"}...], "failure"?: {"cpu", "code"}},
//    "gpt_device_realm": [...], "gpt_premarks": [...], "keys": {"realm": bytes, "platform": bytes},
//    "mec_refreshes", "plat_token": {"active", "offset", "token": bytes},
//    "signer": {"pending": [...], "ready": [...], "done"}}
//
// plus "reset_pending": true in the document a reset commits first (Carveout::reset()).
#include "monitor_impl.hpp"

#include "el3d/attest/cbor.hpp"

namespace el3d {

namespace {
const char* state_name(CpuBootState s)
{
	switch (s) {
	case CpuBootState::Off: return "off";
	case CpuBootState::Booting: return "booting";
	case CpuBootState::Booted: return "booted";
	case CpuBootState::Failed: return "failed";
	}
	return "off";
}

void key_scalar(attest::cbor::Writer& w, const attest::EcKey& k)
{
	const auto s = k.private_scalar();
	w.bytes(s);
}
}  // namespace

void BootState::encode(attest::cbor::Writer& w) const
{
	w.map(failure_ ? 4 : 3);
	w.text("activation").uint(activation_);
	w.text("started").boolean(started_);
	std::size_t n = 0;
	for_each_recorded([&](uint32_t, const CpuStatus&, bool) { ++n; });
	w.text("cpus").array(n);
	for_each_recorded([&](uint32_t i, const CpuStatus& c, bool entered) {
		w.map(7);
		w.text("cpu").uint(i);
		w.text("state").text(state_name(c.state));
		w.text("result").integer(c.boot_result);
		w.text("completions").uint(c.completions);
		w.text("token").uint(c.token);
		w.text("entries").uint(c.entries);
		w.text("entered").boolean(entered);
	});
	if (failure_) {
		w.text("failure").map(2);
		w.text("cpu").uint(failure_->cpu);
		w.text("code").integer(failure_->code);
	}
}

void Monitor::Impl::keys_changed()
{
	attest::cbor::Writer k;
	k.map(2);
	key_scalar(k.text("realm"), realm_key);
	key_scalar(k.text("platform"), platform_key);
	keys_cbor = std::move(k).take();
	const auto rk = realm_key.public_uncompressed();
	realm_pub.assign(rk.begin(), rk.end());
	const auto pk = platform_key.public_uncompressed();
	platform_pub.assign(pk.begin(), pk.end());
}

const std::vector<uint8_t>& Monitor::Impl::encode_state(bool for_reset) const
{
	attest::cbor::Writer& w = state_writer;
	w.clear();
	w.map(for_reset ? 8 : 7);
	w.text("boot");
	boot.encode(w);
	// A reset puts every device-window granule back to Non-secure.
	if (for_reset) {
		w.text(Gpt::kDeviceStateKey).array(0);
	} else {
		const auto runs = gpt.device_runs_list();
		w.text(Gpt::kDeviceStateKey).array(runs.size());
		for (const auto& [first, count] : runs)
			w.array(2).uint(first).uint(count);
	}
	if (premarks_cbor.empty() || premarks_encoded != gpt_premarks) {  // they change on a reset or a restore
		premarks_encoded = gpt_premarks;
		premarks_cbor = nlohmann::json::to_cbor(gpt_premarks);
	}
	w.text("gpt_premarks").raw(premarks_cbor);
	w.text("keys").raw(keys_cbor);
	w.text("mec_refreshes").uint(mec_refreshes);
	w.text("plat_token").map(3);
	w.text("active").boolean(plat_token.active);
	w.text("offset").uint(plat_token.offset);
	w.text("token").bytes(plat_token.token);
	w.text("signer");
	signer->encode(w);
	if (for_reset)
		w.text(Carveout::kResetPendingKey).boolean(true);
	return w.data();
}

void Monitor::Impl::commit() { carveout->commit_state_cbor(encode_state(false)); }

}  // namespace el3d
