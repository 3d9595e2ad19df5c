#include "el3d/monitor/monitor.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"
#include "monitor_impl.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

namespace el3d {

namespace {

struct AbiName {
	Abi abi;
	const char* name;
	uint32_t version;
};
constexpr AbiName kAbis[] = {
    {Abi::Seed, "seed", 0x00000006},        // 0.6
    {Abi::Tfa, "tfa", 0x00020000},          // 2.0
    {Abi::TfaV1Compat, "tfa-v1-compat", 0x00000008},  // 0.8
};

attest::EcKey load_or_make_key(const nlohmann::json& keys, const char* name, bool& created,
                               const std::optional<uint64_t>& seed)
{
	if (!keys.is_object())
		throw std::invalid_argument("not an object");
	if (auto it = keys.find(name); it != keys.end()) {
		// What encode_state() wrote: the 48-byte P-384 private scalar.
		if (!it->is_binary() || it->get_binary().size() != attest::kP384ScalarSize)
			throw std::invalid_argument(std::string("'") + name + "' is not a 48-byte P-384 private scalar");
		return attest::EcKey::from_private_scalar(it->get_binary());
	}
	created = true;
	return seed ? attest::EcKey::derive(*seed, name) : attest::EcKey::generate();
}

}  // namespace

// With a seed, a copy of `k` whose signatures are a function of the seed, the key and the digest.
attest::EcKey nonces_for(const attest::EcKey& k, const std::optional<uint64_t>& seed, const char* name)
{
	if (!seed)
		return k;
	std::vector<uint8_t> nonce_key(name, name + std::strlen(name));
	for (int i = 0; i < 8; ++i)
		nonce_key.push_back(static_cast<uint8_t>(*seed >> (8 * i)));
	return k.with_deterministic_nonces(nonce_key);
}

namespace {

// What the key members hold until the state document's keys are loaded just below (or new ones are
// made): one key per process, so that opening a carveout costs no key generation when it has keys.
const attest::EcKey& placeholder_key()
{
	static const attest::EcKey k = attest::EcKey::generate();
	return k;
}

// The recorded [[gpt]] ranges back from the state document, each checked as a configuration's are.
std::vector<manifest::PasRange> premarks_from_json(const nlohmann::json& j, const Gpt& gpt)
{
	if (!j.is_array())
		throw std::invalid_argument("not an array");
	std::vector<manifest::PasRange> out;
	for (const auto& r : j) {
		if (!r.is_object() || !r.contains("base") || !r.contains("size") || !r.contains("pas") ||
		    !r["base"].is_number_unsigned() || !r["size"].is_number_unsigned() || !r["pas"].is_string())
			throw std::invalid_argument("a range is not {base, size, pas}");
		manifest::PasRange p{r["base"].get<uint64_t>(), r["size"].get<uint64_t>(), r["pas"].get<std::string>()};
		const auto g = gpi_from_name(p.pas);
		if (!g)
			throw std::invalid_argument("unknown PAS '" + p.pas + "'");
		gpt.check_range(p.base, p.size, *g);
		out.push_back(std::move(p));
	}
	return out;
}

std::string describe_premarks(const nlohmann::json& ranges)
{
	std::string out;
	for (const auto& r : ranges) {
		if (!out.empty())
			out += ", ";
		out += "[" + hex(r.value("base", uint64_t{0})) + ", " + hex(r.value("base", uint64_t{0}) + r.value("size", uint64_t{0})) +
		       ") " + r.value("pas", std::string("?"));
	}
	return out.empty() ? "none" : out;
}

}  // namespace

const char* abi_name(Abi a)
{
	for (const auto& n : kAbis)
		if (n.abi == a)
			return n.name;
	return "?";
}

std::optional<Abi> abi_from_name(std::string_view name)
{
	for (const auto& n : kAbis)
		if (name == n.name)
			return n.abi;
	return std::nullopt;
}

nlohmann::json premarks_json(const std::vector<manifest::PasRange>& ranges)
{
	nlohmann::json out = nlohmann::json::array();
	for (const auto& r : ranges)
		out.push_back({{"base", r.base}, {"size", r.size}, {"pas", r.pas}});
	return out;
}

PayloadDefault payload_default(Abi a) { return a == Abi::Seed ? PayloadDefault::Seed : PayloadDefault::Tfa; }

uint32_t interface_version(Abi a)
{
	for (const auto& n : kAbis)
		if (n.abi == a)
			return n.version;
	return 0;
}

namespace {
// A platform's default boot configuration as status() shows it, built once per process: a daemon (or a
// test) that opens its carveout again would otherwise build the same JSON again.
const std::string& default_config_json(const std::string& platform)
{
	static std::mutex mu;
	static std::map<std::string, std::string> cache;  // nodes are stable: the reference stays valid
	std::lock_guard lock(mu);
	auto it = cache.find(platform);
	if (it == cache.end())
		it = cache.emplace(platform, manifest::to_json(manifest::default_boot_config(platform))).first;
	return it->second;
}
}  // namespace

Monitor::Impl::Impl(std::unique_ptr<Carveout> c, MonitorOptions o)
    : carveout(std::move(c)),
      allocator(*carveout),
      gpt(*carveout),
      boot(carveout->geometry().core_count),
      options(std::move(o)),
      boot_config(options.boot_config ? *options.boot_config
                                      : manifest::default_boot_config(carveout->geometry().platform)),
      realm_key(placeholder_key()),
      platform_key(placeholder_key()),
      injector(abi_name(options.abi))
{
	// A device-window transition commits the whole state document, as every other change does.
	gpt.set_committer([this] { commit(); });
	if (options.inject_again != 0) {
		// --inject-again N as a fault rule: N E_RMM_AGAIN answers, then the hunk, again and again, counted over the
		// calls the command's own checks accept (TF-A checks the buffer before the platform can be busy).
		faults::Rule r;
		r.id = "inject-again";
		r.fid = EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN;
		r.trigger = faults::Trigger::Cycle;
		r.n = options.inject_again;
		r.pass = 1;
		r.after_checks = true;
		r.result = static_cast<uint64_t>(EL3_E_RMM_AGAIN);
		injector.add(std::move(r));
	}
	const auto& doc = carveout->state();
	std::vector<manifest::PasRange> recorded_premarks;
	// The state document passed its checksum, but its contents are checked as they are read: a
	// field of the wrong type or size refuses the file (untouched: nothing is written before this),
	// naming the field, as corrupt metadata.
	const char* field = "boot";
	bool keys_made = false;
	try {
		if (auto it = doc.find("boot"); it != doc.end())
			boot.load(*it);
		field = "keys";
		// Attestation keys: made once per carveout file and kept, like a device's provisioned keys.
		const nlohmann::json keys = doc.value("keys", nlohmann::json::object());
		realm_key = nonces_for(load_or_make_key(keys, "realm", keys_made, options.seed), options.seed, "realm");
		platform_key = nonces_for(load_or_make_key(keys, "platform", keys_made, options.seed), options.seed, "platform");
		keys_changed();
		field = "plat_token";
		if (auto it = doc.find("plat_token"); it != doc.end() && it->is_object()) {
			plat_token.active = it->value("active", false);
			plat_token.offset = it->value("offset", uint64_t{0});
			if (it->contains("token") && (*it)["token"].is_binary())
				plat_token.token = (*it)["token"].get_binary();
			if (plat_token.offset > plat_token.token.size())
				plat_token = {};
		}
		field = "mec_refreshes";
		mec_refreshes = doc.value("mec_refreshes", uint64_t{0});
		signer = std::make_unique<TokenSigner>(realm_key, options.sign_queue_depth, options.sign_delay,
		                                       options.seed.has_value());
		field = "signer";
		if (auto it = doc.find("signer"); it != doc.end())
			signer->load(*it);
		field = "gpt_premarks";
		if (auto it = doc.find("gpt_premarks"); it != doc.end())
			recorded_premarks = premarks_from_json(*it, gpt);
	} catch (const std::exception& e) {
		throw CarveoutError(CarveoutRefusal::Corrupt,
		                    "carveout file " + carveout->path() + ": corrupt metadata (state document, field '" + field +
		                        "': " + e.what() + "); refusing to touch it (--reset recreates it, erasing it)");
	}
	for (const auto& e : profile_commands(options))
		commands.emplace(e.fid, Command{e.name, e.handler});
	// [[gpt]] pre-marks are part of the platform's initial GPT: checked at every start, applied
	// only to a new (or reset) file, so that a restart never undoes what the RMM delegated or
	// undelegated inside such a range since (docs/boot.md).
	for (const auto& r : boot_config.gpt) {
		auto g = gpi_from_name(r.pas);
		if (!g)
			throw manifest::ConfigError("gpt: unknown PAS '" + r.pas + "'");
		try {
			gpt.check_range(r.base, r.size, *g);
		} catch (const std::invalid_argument& e) {
			throw manifest::ConfigError("gpt range " + hex(r.base) + "+" + hex(r.size) + ": " + e.what());
		}
	}
	const nlohmann::json wanted = premarks_json(boot_config.gpt);
	bool record = false;
	if (carveout->reset_pending()) {
		// The pre-marks the reset recorded, not today's configuration: the reset is finished as it began.
		complete_interrupted_reset(recorded_premarks);
		record = true;
	}
	if (carveout->created()) {
		apply_premarks();
		gpt_premarks = wanted;
		record = true;
	} else if (auto it = doc.find("gpt_premarks"); it != doc.end() && it->is_array()) {
		gpt_premarks = *it;
		if (gpt_premarks != wanted)
			spdlog::warn("the boot configuration's [[gpt]] ranges ({}) differ from those applied when the carveout "
			             "was created or last reset ({}): the GPT keeps its current state; `el3ctl reset` (or el3d "
			             "--reset) applies the new ranges",
			             describe_premarks(wanted), describe_premarks(gpt_premarks));
	} else {
		// A file from before el3d recorded its pre-marks: it applied them at every start, so the GPT
		// already holds them (and whatever the RMM changed since). Record, do not apply.
		gpt_premarks = wanted;
		record = true;
		if (!wanted.empty())
			spdlog::warn("carveout {} does not record which [[gpt]] ranges it was set up with: el3d takes them to be "
			             "the configured ones ({}) and does not apply them again; `el3ctl reset` applies them",
			             carveout->path(), describe_premarks(wanted));
	}
	if (keys_made || record)
		commit();
}

void Monitor::Impl::apply_premarks() { apply_premarks(boot_config.gpt); }

void Monitor::Impl::apply_premarks(const std::vector<manifest::PasRange>& ranges)
{
	for (const auto& r : ranges) {
		gpt.set_range(r.base, r.size, *gpi_from_name(r.pas));
		spdlog::info("GPT: [{}, {}) pre-marked {} by the boot configuration", hex(r.base), hex(r.base + r.size), r.pas);
	}
}

Monitor::Impl::~Impl() { signer.reset(); }

int64_t Monitor::Impl::check_shared_buffer(uint64_t pa, uint64_t len) const
{
	const uint64_t page = carveout->geometry().shared_base();
	if ((pa & ~(kGranule - 1)) != page)
		return EL3_E_RMM_BAD_ADDR;
	// TF-A tests that the last byte, pa + len - 1, lies in the page, without an overflow check,
	// so a huge len that wraps around to the page passes there. el3d compares len with the room
	// left in the page instead: the same answer for every len that does not wrap, E_RMM_INVAL
	// for one that does, and E_RMM_INVAL for len = 0 wherever the buffer starts.
	if (len == 0 || len > page + kGranule - pa)
		return EL3_E_RMM_INVAL;
	return 0;
}

Monitor::Monitor(std::unique_ptr<Carveout> carveout, MonitorOptions options)
    : impl_(std::make_unique<Impl>(std::move(carveout), std::move(options)))
{
}

Monitor::~Monitor() = default;

const Geometry& Monitor::geometry() const { return impl_->carveout->geometry(); }
const Carveout& Monitor::carveout() const { return *impl_->carveout; }
const MonitorOptions& Monitor::options() const { return impl_->options; }

MonitorStatus Monitor::status() const
{
	MonitorStatus s;
	status(s);
	return s;
}

void Monitor::status(MonitorStatus& s) const
{
	const Impl& m = *impl_;
	std::lock_guard lock(m.mu);
	s.geometry = m.carveout->geometry();
	s.carveout_path = m.carveout->path();
	s.carveout_uuid = m.carveout->uuid_string();
	s.image_offset = m.carveout->image_offset();
	s.abi = m.options.abi;
	s.interface_version = interface_version(m.options.abi);
	s.strict_boot = m.options.strict_boot;
	s.top = m.allocator.top();
	s.regions = m.allocator.records();
	s.log_capacity = m.carveout->log_capacity();
	s.allocations_after_boot = 0;
	for (const auto& r : s.regions)
		s.allocations_after_boot += (r.flags & kAllocAfterBootComplete) ? 1 : 0;
	s.cpus.clear();
	m.boot.for_each_recorded([&](uint32_t i, const CpuStatus& c, bool) {
		s.cpus.push_back(c);
		s.cpus.back().cpu = i;
		s.cpus.back().session = m.boot.attached(i);
	});
	s.boot_failure = m.boot.failure();
	s.epoch = m.carveout->epoch();
	s.activation = m.boot.activation();
	s.smc_calls = m.calls.load(std::memory_order_relaxed);
	s.gpt_granules = m.gpt.counts();
	s.gpt_ranges = m.carveout->gpt_ranges();
	s.gpt_ranges.insert(s.gpt_ranges.end(), m.gpt.fixed_ranges().begin(), m.gpt.fixed_ranges().end());
	s.gpt_ranges.insert(s.gpt_ranges.end(), m.gpt.device_ranges().begin(), m.gpt.device_ranges().end());
	std::sort(s.gpt_ranges.begin(), s.gpt_ranges.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	s.platform_key = m.platform_pub;
	s.realm_key = m.realm_pub;
	const auto sc = m.signer->counts();
	s.sign_pending = sc.pending;
	s.sign_ready = sc.ready;
	s.sign_done = sc.done;
	s.mec_refreshes = m.mec_refreshes;
	if (!m.boot_config_json)
		m.boot_config_json = m.options.boot_config ? manifest::to_json(m.boot_config)
		                                           : default_config_json(m.carveout->geometry().platform);
	s.boot_config_json = *m.boot_config_json;
	s.durability = m.carveout->durability();
	s.flushes = m.carveout->flush_stats();
}

bool Monitor::read_memory(uint64_t pa, uint64_t len, std::vector<uint8_t>& out) const
{
	// Under the monitor lock, like an SMC: never interleaved with a reset or a handler's copy.
	const Impl& m = *impl_;
	const Carveout& c = *m.carveout;
	if (!c.in_image(pa, len))
		return false;
	std::lock_guard lock(m.mu);
	out.resize(len);
	try {
		c.read_image(pa, out.data(), len);
	} catch (const std::exception& e) {
		spdlog::warn("read of {} bytes at {:#x}: {}", len, pa, e.what());
		return false;
	}
	return true;
}

bool Monitor::write_memory(uint64_t pa, const uint8_t* data, uint64_t len)
{
	Impl& m = *impl_;
	Carveout& c = *m.carveout;
	if (!c.in_image(pa, len))
		return false;
	if (len == 0)
		return true;
	std::lock_guard lock(m.mu);
	m.finish_reset();
	try {
		c.write_image(pa, data, len);
	} catch (const std::exception& e) {
		spdlog::warn("write of {} bytes at {:#x}: {}", len, pa, e.what());
		return false;
	}
	return !c.sync(pa, len);
}

}  // namespace el3d
