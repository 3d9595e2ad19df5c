// Snapshots seen from the monitor: a quiet moment to copy the carveout file in, and a restore that
// replaces the file's content and reloads what the monitor derived from it, as a restart would
// (docs/snapshots.md).
#include "el3d/monitor/monitor.hpp"

#include "monitor_impl.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace el3d {

void Monitor::quiesce(const std::function<void()>& fn) const
{
	std::lock_guard lock(impl_->mu);
	fn();
}

void Monitor::restore(const std::string& source, bool force)
{
	Impl& m = *impl_;
	std::lock_guard lock(m.mu);
	if (!force) {
		std::string held;
		for (uint32_t cpu = 0; cpu < m.boot.core_count(); ++cpu)
			if (m.boot.attached(cpu))
				held += (held.empty() ? "" : ", ") + std::to_string(cpu);
		if (!held.empty())
			throw RestoreRefused("an RMM session holds CPU " + held +
			                     "; a restore would change its memory under it (stop the RMM first, or force)");
	}
	m.carveout->restore_from(source);
	m.reload_after_restore();
}

void Monitor::Impl::reload_after_restore()
{
	const nlohmann::json& doc = carveout->state();
	// The signer signs with a reference to the realm key: stopped before the keys change.
	signer.reset();
	boot.load(doc.value("boot", nlohmann::json::object()));  // sessions stay attached (not in the file)
	if (auto keys = doc.find("keys"); keys != doc.end() && keys->is_object()) {
		if (auto k = keys->find("realm"); k != keys->end() && k->is_binary())
			realm_key = nonces_for(attest::EcKey::from_private_scalar(k->get_binary()), options.seed, "realm");
		if (auto k = keys->find("platform"); k != keys->end() && k->is_binary())
			platform_key = nonces_for(attest::EcKey::from_private_scalar(k->get_binary()), options.seed, "platform");
	}
	keys_changed();
	plat_token = {};
	if (auto it = doc.find("plat_token"); it != doc.end() && it->is_object()) {
		plat_token.active = it->value("active", false);
		plat_token.offset = it->value("offset", uint64_t{0});
		if (it->contains("token") && (*it)["token"].is_binary())
			plat_token.token = (*it)["token"].get_binary();
		if (plat_token.offset > plat_token.token.size())
			plat_token = {};
	}
	mec_refreshes = doc.value("mec_refreshes", uint64_t{0});
	signer = std::make_unique<TokenSigner>(realm_key, options.sign_queue_depth, options.sign_delay, options.seed.has_value());
	if (auto it = doc.find("signer"); it != doc.end())
		signer->load(*it);
	gpt_premarks = doc.value("gpt_premarks", nlohmann::json::array());
	allocator.reload();
	gpt.reload();
	if (carveout->reset_pending()) {
		// The snapshot was taken while a reset's last commit had failed: finished as an open would.
		std::vector<manifest::PasRange> premarks;
		for (const auto& r : gpt_premarks)
			premarks.push_back({r.value("base", uint64_t{0}), r.value("size", uint64_t{0}), r.value("pas", std::string())});
		complete_interrupted_reset(premarks);
		commit();
	}
	spdlog::info("carveout {} restored: epoch {}, activation {}, {} regions", carveout->path(), carveout->epoch(),
	             boot.activation(), carveout->log().size());
}

}  // namespace el3d
