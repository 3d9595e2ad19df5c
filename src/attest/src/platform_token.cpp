#include "el3d/attest/platform_token.hpp"

#include "el3d/attest/cbor.hpp"

#include <stdexcept>
#include <string_view>

namespace el3d::attest {
namespace {

bool hash_sized(std::size_t n) { return n == 32 || n == 48 || n == 64; }

[[noreturn]] void invalid(const std::string& what) { throw std::invalid_argument("attest: " + what); }

std::vector<uint8_t> sha256_of(std::string_view s)
{
	const auto h = sha256(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
	return {h.begin(), h.end()};
}

void encode_sw_component(cbor::Writer& w, const SwComponent& c)
{
	const uint64_t pairs = 2 + !c.type.empty() + !c.version.empty() + !c.hash_alg.empty();
	w.map(pairs);
	if (!c.type.empty())
		w.uint(sw_claim::kType).text(c.type);
	w.uint(sw_claim::kMeasurement).bytes(c.measurement);
	if (!c.version.empty())
		w.uint(sw_claim::kVersion).text(c.version);
	w.uint(sw_claim::kSignerId).bytes(c.signer_id);
	if (!c.hash_alg.empty())
		w.uint(sw_claim::kHashAlg).text(c.hash_alg);
}

}  // namespace

bool valid_lifecycle(int64_t v)
{
	// Seven 256-value ranges at 0x0000, 0x1000, ... 0x6000.
	return v >= 0 && v <= 0x60ff && (v & 0x0f00) == 0;
}

void validate(const PlatformClaims& c)
{
	if (c.profile.empty())
		invalid("the profile claim (265) is empty");
	if (c.implementation_id.size() != 32)
		invalid("the implementation id (2396) must be 32 bytes, not " + std::to_string(c.implementation_id.size()));
	if (c.instance_id.size() != 33 || c.instance_id[0] != 0x01)
		invalid("the instance id (256) must be 33 bytes starting with 0x01 (a random-type UEID)");
	if (!valid_lifecycle(c.lifecycle))
		invalid("the lifecycle (2395) " + std::to_string(c.lifecycle) + " is in none of the profile's ranges");
	if (c.sw_components.empty())
		invalid("the software components (2399) need at least one entry");
	for (std::size_t i = 0; i < c.sw_components.size(); ++i) {
		const SwComponent& sc = c.sw_components[i];
		if (!hash_sized(sc.measurement.size()) || !hash_sized(sc.signer_id.size()))
			invalid("software component " + std::to_string(i) +
			        ": the measurement and signer id must be 32, 48 or 64 bytes");
	}
	if (c.hash_alg.empty())
		invalid("the hash algorithm id (2402) is empty");
	// Text claims must be UTF-8; cbor::Writer::text() would catch it too, but only halfway through.
	auto utf8 = [](std::string_view s, const char* name) {
		if (!cbor::valid_utf8(s))
			invalid(std::string(name) + " is not valid UTF-8");
	};
	utf8(c.profile, "the profile");
	utf8(c.verification_service, "the verification service");
	utf8(c.hash_alg, "the hash algorithm id");
	for (const SwComponent& sc : c.sw_components) {
		utf8(sc.type, "a software component's type");
		utf8(sc.version, "a software component's version");
		utf8(sc.hash_alg, "a software component's hash algorithm");
	}
}

PlatformClaims default_claims(const EcKey& platform_key)
{
	PlatformClaims c;
	c.implementation_id = sha256_of("el3d emulated CCA platform: implementation id");

	const auto pub = platform_key.public_uncompressed();
	const auto pub_hash = sha256(pub);
	c.instance_id.reserve(33);
	c.instance_id.push_back(0x01);  // UEID type RAND
	c.instance_id.insert(c.instance_id.end(), pub_hash.begin(), pub_hash.end());

	c.config = sha256_of("el3d emulated CCA platform: configuration");

	// What an Arm reference platform measures on its way to the RMM (TF-A's BL1, BL2, BL31, the RMM
	// image and the config blobs BL2 loads), measured here as hashes of el3d's own labels.
	static constexpr const char* kImages[] = {"BL1",       "BL2",       "BL31",         "RMM",
	                                          "HW_CONFIG", "FW_CONFIG", "TB_FW_CONFIG", "SOC_FW_CONFIG"};
	const auto signer = sha256_of("el3d emulated CCA platform: firmware signer");
	for (const char* name : kImages) {
		SwComponent sc;
		sc.type = name;
		sc.measurement = sha256_of(std::string("el3d emulated CCA platform: measurement of ") + name);
		sc.version = "0.1.0";
		sc.signer_id = signer;
		sc.hash_alg = "sha-256";
		c.sw_components.push_back(std::move(sc));
	}
	return c;
}

std::vector<uint8_t> encode_platform_claims(const PlatformClaims& c, std::span<const uint8_t> challenge)
{
	if (!hash_sized(challenge.size()))
		invalid("the challenge must be 32, 48 or 64 bytes (SHA-256/384/512), not " +
		        std::to_string(challenge.size()));
	validate(c);

	cbor::Writer w;
	w.map(8 + !c.verification_service.empty());
	// Ascending key order = the order of their encoded bytes, as deterministic encoding requires.
	w.uint(claim::kChallenge).bytes(challenge);
	w.uint(claim::kInstanceId).bytes(c.instance_id);
	w.uint(claim::kProfile).text(c.profile);
	w.uint(claim::kLifecycle).integer(c.lifecycle);
	w.uint(claim::kImplementationId).bytes(c.implementation_id);
	w.uint(claim::kSwComponents).array(c.sw_components.size());
	for (const SwComponent& sc : c.sw_components)
		encode_sw_component(w, sc);
	if (!c.verification_service.empty())
		w.uint(claim::kVerificationService).text(c.verification_service);
	w.uint(claim::kPlatformConfig).bytes(c.config);
	w.uint(claim::kHashAlgorithm).text(c.hash_alg);
	return std::move(w).take();
}

std::vector<uint8_t> make_platform_token(const PlatformClaims& claims, std::span<const uint8_t> challenge,
                                         const EcKey& platform_key)
{
	const std::vector<uint8_t> payload = encode_platform_claims(claims, challenge);

	cbor::Writer prot;
	prot.map(1).integer(kCoseHeaderAlg).integer(kCoseAlgES384);
	const std::vector<uint8_t>& protected_hdr = prot.data();

	// RFC 9052 §4.4: what COSE_Sign1 signs is this array, not the payload alone, so the algorithm in
	// the protected header is covered too. No external AAD: the empty byte string.
	cbor::Writer tbs;
	tbs.array(4).text("Signature1").bytes(protected_hdr).bytes({}).bytes(payload);
	const auto signature = platform_key.sign_digest(sha384(tbs.data()));

	cbor::Writer token;
	token.tag(kCoseSign1Tag).array(4).bytes(protected_hdr).map(0).bytes(payload).bytes(signature);
	return std::move(token).take();
}

}  // namespace el3d::attest
