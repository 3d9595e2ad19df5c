// Reset: forget every region, delegation and CPU's boot state, as one atomic step seen after any crash
// (docs/persistence.md): the carveout commits the fresh state marked unfinished, clears the image and
// the GPT map; the monitor applies the [[gpt]] pre-marks and commits the state unmarked. A reset
// interrupted in between is finished by the next open, or, if only its last commit failed, before the
// next change.
#include "el3d/monitor/monitor.hpp"

#include "monitor_impl.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

void Monitor::Impl::finish_reset()
{
	if (carveout->reset_pending())
		commit();
}

void Monitor::Impl::complete_interrupted_reset(const std::vector<manifest::PasRange>& premarks)
{
	spdlog::warn("carveout {}: the last reset did not finish (el3d stopped in the middle of it); finishing it now: "
	             "image zeroed, GPT as the platform started{}",
	             carveout->path(), premarks.empty() ? "" : ", [[gpt]] pre-marks applied again");
	carveout->clear_image_and_gpt();
	gpt.reload();
	apply_premarks(premarks);
}

void Monitor::reset()
{
	Impl& m = *impl_;
	std::lock_guard lock(m.mu);
	// If the commit point is not reached (the file refuses it), nothing changes, in memory either.
	const BootState boot = m.boot;
	attest::cbor::Writer signer;
	m.signer->encode(signer);
	const nlohmann::json premarks = m.gpt_premarks;
	const PlatTokenState plat_token = m.plat_token;
	const uint64_t mec_refreshes = m.mec_refreshes;
	m.boot.clear();
	m.signer->clear();
	m.plat_token = {};
	m.mec_refreshes = 0;
	m.gpt_premarks = premarks_json(m.boot_config.gpt);
	try {
		m.carveout->reset_cbor(m.encode_state(true));  // the commit point, then the image and the GPT map cleared
	} catch (...) {
		m.boot = boot;
		m.signer->load(nlohmann::json::from_cbor(signer.data()));
		m.plat_token = plat_token;
		m.mec_refreshes = mec_refreshes;
		m.gpt_premarks = premarks;
		throw;
	}
	m.allocator.reload();
	m.gpt.reload();
	m.apply_premarks();
	m.carveout->crash_point("reset:premarks-applied");
	// Finished: the state document loses its mark. If this commit fails, the next SMC, boot entry or
	// memory write makes it first (finish_reset()); a crash before then is finished by the next open.
	m.commit();
}

}  // namespace el3d
