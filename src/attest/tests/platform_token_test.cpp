// The token is decoded here with libcbor, a decoder that shares no code with our encoder, and the
// COSE Sig_structure is rebuilt byte by byte, so a bug in cbor::Writer cannot hide behind itself.
#include "el3d/attest/platform_token.hpp"

#include <cbor.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace el3d::attest;
using Bytes = std::vector<uint8_t>;

namespace {

// Owns one libcbor reference.
class Item {
public:
	explicit Item(cbor_item_t* p) : p_(p) {}
	Item(Item&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
	Item(const Item&) = delete;
	Item& operator=(const Item&) = delete;
	Item& operator=(Item&&) = delete;
	~Item()
	{
		if (p_)
			cbor_decref(&p_);
	}
	const cbor_item_t* get() const { return p_; }

private:
	cbor_item_t* p_;
};

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

// The whole buffer must be exactly one well-formed item.
Item decode(const Bytes& b)
{
	cbor_load_result res{};
	cbor_item_t* it = cbor_load(b.data(), b.size(), &res);
	if (!it)
		fail("libcbor cannot decode: error " + std::to_string(res.error.code) + " at " +
		     std::to_string(res.error.position));
	Item item(it);
	if (res.read != b.size())
		fail("trailing bytes after the item");
	return item;
}

// The smallest width libcbor can have decoded `v` from, if the encoder used the shortest head.
cbor_int_width shortest_width(uint64_t v)
{
	return v <= 0xff ? CBOR_INT_8 : v <= 0xffff ? CBOR_INT_16 : v <= 0xffffffff ? CBOR_INT_32 : CBOR_INT_64;
}

uint64_t as_uint(const cbor_item_t* it)
{
	if (!cbor_isa_uint(it))
		fail("not an unsigned integer");
	const uint64_t v = cbor_get_int(it);
	if (cbor_int_get_width(it) != shortest_width(v))
		fail("integer " + std::to_string(v) + " not in its shortest form");
	return v;
}

int64_t as_int(const cbor_item_t* it)
{
	if (cbor_isa_uint(it))
		return static_cast<int64_t>(as_uint(it));
	if (!cbor_isa_negint(it))
		fail("not an integer");
	const uint64_t v = cbor_get_int(it);
	if (cbor_int_get_width(it) != shortest_width(v))
		fail("negative integer not in its shortest form");
	return -1 - static_cast<int64_t>(v);
}

Bytes as_bytes(const cbor_item_t* it)
{
	if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		fail("not a definite byte string");
	const uint8_t* p = cbor_bytestring_handle(it);
	return Bytes(p, p + cbor_bytestring_length(it));
}

std::string as_text(const cbor_item_t* it)
{
	if (!cbor_isa_string(it) || !cbor_string_is_definite(it))
		fail("not a definite text string");
	return std::string(reinterpret_cast<const char*>(cbor_string_handle(it)), cbor_string_length(it));
}

// Integer-keyed map, in wire order; the values are borrowed from `map`.
std::vector<std::pair<uint64_t, const cbor_item_t*>> entries(const cbor_item_t* map)
{
	if (!cbor_isa_map(map) || !cbor_map_is_definite(map))
		fail("not a definite map");
	std::vector<std::pair<uint64_t, const cbor_item_t*>> out;
	const cbor_pair* pairs = cbor_map_handle(map);
	for (std::size_t i = 0; i < cbor_map_size(map); ++i)
		out.emplace_back(as_uint(pairs[i].key), pairs[i].value);
	return out;
}

std::vector<const cbor_item_t*> elements(const cbor_item_t* array)
{
	if (!cbor_isa_array(array) || !cbor_array_is_definite(array))
		fail("not a definite array");
	cbor_item_t** h = cbor_array_handle(array);
	return {h, h + cbor_array_size(array)};
}

struct Parts {
	Bytes protected_hdr;
	std::size_t unprotected_pairs = 0;
	Bytes payload;
	Bytes signature;
};

Parts split(const Bytes& token)
{
	// libcbor up to 0.10 refuses tags 6..20 as "malformed" (PJK/libcbor#307), COSE_Sign1's 18 among
	// them, so the tag head is checked here by hand: 0xd2 = major 6, value 18, in its one-byte form.
	// libcbor then decodes the tagged array, which must run to the end of the token.
	if (token.empty() || token[0] != 0xd2)
		fail("not tag 18 (COSE_Sign1)");
	Item body = decode(Bytes(token.begin() + 1, token.end()));
	auto e = elements(body.get());
	if (e.size() != 4)
		fail("COSE_Sign1 is not a 4-element array");
	Parts p;
	p.protected_hdr = as_bytes(e[0]);
	p.unprotected_pairs = entries(e[1]).size();
	p.payload = as_bytes(e[2]);
	p.signature = as_bytes(e[3]);
	return p;
}

// RFC 9052 §4.4 Sig_structure for COSE_Sign1, written out by hand.
Bytes sig_structure(const Bytes& prot, const Bytes& payload)
{
	Bytes s{0x84, 0x6a};  // array(4), text(10)
	for (char c : std::string("Signature1"))
		s.push_back(static_cast<uint8_t>(c));
	if (prot.size() >= 24 || payload.size() < 256 || payload.size() > 0xffff)
		fail("sig_structure helper only handles these sizes");
	s.push_back(static_cast<uint8_t>(0x40 | prot.size()));
	s.insert(s.end(), prot.begin(), prot.end());
	s.push_back(0x40);  // external_aad = h''
	s.push_back(0x59);  // bstr with a 2-byte length
	s.push_back(static_cast<uint8_t>(payload.size() >> 8));
	s.push_back(static_cast<uint8_t>(payload.size()));
	s.insert(s.end(), payload.begin(), payload.end());
	return s;
}

bool signature_ok(const Bytes& token, const EcKey& key)
{
	const Parts p = split(token);
	return key.verify_digest(sha384(sig_structure(p.protected_hdr, p.payload)), p.signature);
}

Bytes challenge_of(std::size_t n, uint8_t seed = 0x10)
{
	Bytes c(n);
	for (std::size_t i = 0; i < n; ++i)
		c[i] = static_cast<uint8_t>(seed + i);
	return c;
}

class AttestPlatformToken : public ::testing::Test {
protected:
	EcKey key = EcKey::generate();
	PlatformClaims claims = default_claims(key);
};

}  // namespace

TEST_F(AttestPlatformToken, CoseSign1Structure)
{
	const Bytes token = make_platform_token(claims, challenge_of(48), key);
	EXPECT_EQ(token[0], 0xd2);  // tag 18 in one byte
	const Parts p = split(token);
	EXPECT_EQ(p.protected_hdr, (Bytes{0xa1, 0x01, 0x38, 0x22}));  // {1: -35}
	Item prot = decode(p.protected_hdr);
	auto ph = entries(prot.get());
	ASSERT_EQ(ph.size(), 1u);
	EXPECT_EQ(ph[0].first, 1u);
	EXPECT_EQ(as_int(ph[0].second), -35);
	EXPECT_EQ(p.unprotected_pairs, 0u);
	EXPECT_EQ(p.signature.size(), 96u);
	EXPECT_EQ(p.payload, encode_platform_claims(claims, challenge_of(48)));
	// A whole token fits the 4 KiB RMM-EL3 shared buffer with the largest challenge.
	EXPECT_LT(make_platform_token(claims, challenge_of(64), key).size(), 4096u);
}

TEST_F(AttestPlatformToken, EveryClaimDecodesWithItsKeyAndType)
{
	const Bytes challenge = challenge_of(32, 0xc0);
	const Parts p = split(make_platform_token(claims, challenge, key));
	Item payload = decode(p.payload);
	const auto e = entries(payload.get());

	std::vector<uint64_t> keys;
	for (const auto& [k, v] : e)
		keys.push_back(k);
	// All nine claims, in ascending (= deterministic encoding) order.
	EXPECT_EQ(keys, (std::vector<uint64_t>{10, 256, 265, 2395, 2396, 2399, 2400, 2401, 2402}));

	std::map<uint64_t, const cbor_item_t*> m(e.begin(), e.end());
	EXPECT_EQ(as_bytes(m.at(claim::kChallenge)), challenge);
	EXPECT_EQ(as_text(m.at(claim::kProfile)), "tag:arm.com,2023:cca_platform#1.0.0");
	EXPECT_EQ(as_bytes(m.at(claim::kImplementationId)), claims.implementation_id);
	EXPECT_EQ(as_bytes(m.at(claim::kInstanceId)), claims.instance_id);
	EXPECT_EQ(as_bytes(m.at(claim::kPlatformConfig)), claims.config);
	EXPECT_EQ(as_uint(m.at(claim::kLifecycle)), 0x3000u);
	EXPECT_EQ(as_text(m.at(claim::kVerificationService)),
	          "https://veraison.example/.well-known/veraison/verification");
	EXPECT_EQ(as_text(m.at(claim::kHashAlgorithm)), "sha-256");

	const auto comps = elements(m.at(claim::kSwComponents));
	ASSERT_EQ(comps.size(), claims.sw_components.size());
	for (std::size_t i = 0; i < comps.size(); ++i) {
		const SwComponent& want = claims.sw_components[i];
		const auto ce = entries(comps[i]);
		std::vector<uint64_t> ck;
		for (const auto& [k, v] : ce)
			ck.push_back(k);
		EXPECT_EQ(ck, (std::vector<uint64_t>{1, 2, 4, 5, 6})) << "component " << i;
		std::map<uint64_t, const cbor_item_t*> cm(ce.begin(), ce.end());
		EXPECT_EQ(as_text(cm.at(sw_claim::kType)), want.type);
		EXPECT_EQ(as_bytes(cm.at(sw_claim::kMeasurement)), want.measurement);
		EXPECT_EQ(as_text(cm.at(sw_claim::kVersion)), want.version);
		EXPECT_EQ(as_bytes(cm.at(sw_claim::kSignerId)), want.signer_id);
		EXPECT_EQ(as_text(cm.at(sw_claim::kHashAlg)), want.hash_alg);
	}
}

TEST_F(AttestPlatformToken, ChallengeSizes)
{
	for (std::size_t n : {32u, 48u, 64u}) {
		const Bytes c = challenge_of(n);
		const Bytes token = make_platform_token(claims, c, key);
		Item payload = decode(split(token).payload);
		const auto e = entries(payload.get());
		ASSERT_FALSE(e.empty());
		EXPECT_EQ(e[0].first, claim::kChallenge);
		EXPECT_EQ(as_bytes(e[0].second), c) << n;
		EXPECT_TRUE(signature_ok(token, key)) << n;
	}
	for (std::size_t n : {0u, 1u, 16u, 20u, 31u, 33u, 47u, 49u, 63u, 65u, 128u}) {
		EXPECT_THROW(make_platform_token(claims, challenge_of(n), key), std::invalid_argument) << n;
		EXPECT_THROW(encode_platform_claims(claims, challenge_of(n)), std::invalid_argument) << n;
	}
}

TEST_F(AttestPlatformToken, SignatureVerifiesAndTamperingBreaksIt)
{
	const Bytes challenge = challenge_of(64, 0x33);
	const Bytes token = make_platform_token(claims, challenge, key);
	ASSERT_TRUE(signature_ok(token, key));
	EXPECT_FALSE(signature_ok(token, EcKey::generate()));

	const Bytes payload = split(token).payload;
	const auto at = std::search(token.begin(), token.end(), payload.begin(), payload.end());
	ASSERT_NE(at, token.end());
	const std::size_t off = static_cast<std::size_t>(at - token.begin());

	// Flip a byte inside the challenge, inside a measurement, and the payload's last byte (in the
	// hash algorithm text): the token still decodes, but the signature no longer matches.
	const auto in_challenge = std::search(token.begin(), token.end(), challenge.begin(), challenge.end());
	ASSERT_NE(in_challenge, token.end());
	const auto meas = claims.sw_components[2].measurement;
	const auto in_meas = std::search(token.begin(), token.end(), meas.begin(), meas.end());
	ASSERT_NE(in_meas, token.end());
	for (std::size_t pos : {static_cast<std::size_t>(in_challenge - token.begin()) + 5,
	                        static_cast<std::size_t>(in_meas - token.begin()) + 31, off + payload.size() - 1}) {
		Bytes t = token;
		t[pos] ^= 0x01;
		EXPECT_NO_THROW(split(t));
		EXPECT_FALSE(signature_ok(t, key)) << "flipped byte " << pos;
	}
	// And in the signature itself.
	Bytes t = token;
	t[t.size() - 10] ^= 0x40;
	EXPECT_FALSE(signature_ok(t, key));
}

TEST_F(AttestPlatformToken, PayloadIsDeterministic)
{
	const Bytes c = challenge_of(48);
	const Bytes a = make_platform_token(claims, c, key);
	const Bytes b = make_platform_token(claims, c, key);
	EXPECT_EQ(split(a).payload, split(b).payload);
	EXPECT_EQ(split(a).protected_hdr, split(b).protected_hdr);
	EXPECT_NE(split(a).signature, split(b).signature);  // ECDSA's nonce is random
	EXPECT_TRUE(signature_ok(a, key));
	EXPECT_TRUE(signature_ok(b, key));

	// The first bytes, spelled out: map(9), key 10, bstr(48), then the challenge.
	const Bytes payload = encode_platform_claims(claims, c);
	EXPECT_EQ((Bytes(payload.begin(), payload.begin() + 4)), (Bytes{0xa9, 0x0a, 0x58, 0x30}));
}

TEST(AttestDefaultClaims, DeterministicAndTiedToTheKey)
{
	const EcKey k1 = EcKey::generate();
	const EcKey k2 = EcKey::generate();
	const PlatformClaims a = default_claims(k1);
	const Bytes c = challenge_of(32);
	EXPECT_EQ(encode_platform_claims(a, c), encode_platform_claims(default_claims(k1), c));
	// Same key from its scalar: same claims.
	EXPECT_EQ(encode_platform_claims(a, c),
	          encode_platform_claims(default_claims(EcKey::from_private_scalar(k1.private_scalar())), c));

	// Instance id = 0x01 || SHA-256(0x04 || X || Y); only it differs between keys.
	const auto h = sha256(k1.public_uncompressed());
	Bytes want{0x01};
	want.insert(want.end(), h.begin(), h.end());
	EXPECT_EQ(a.instance_id, want);
	PlatformClaims b = default_claims(k2);
	EXPECT_NE(b.instance_id, a.instance_id);
	b.instance_id = a.instance_id;
	EXPECT_EQ(encode_platform_claims(a, c), encode_platform_claims(b, c));

	EXPECT_EQ(a.profile, "tag:arm.com,2023:cca_platform#1.0.0");
	EXPECT_EQ(a.implementation_id.size(), 32u);
	EXPECT_EQ(a.lifecycle, 0x3000);
	EXPECT_EQ(a.hash_alg, "sha-256");
	EXPECT_FALSE(a.config.empty());
	std::vector<std::string> types;
	for (const auto& sc : a.sw_components) {
		types.push_back(sc.type);
		EXPECT_EQ(sc.measurement.size(), 32u);
		EXPECT_EQ(sc.signer_id.size(), 32u);
		EXPECT_EQ(sc.hash_alg, "sha-256");
	}
	EXPECT_EQ(types, (std::vector<std::string>{"BL1", "BL2", "BL31", "RMM", "HW_CONFIG", "FW_CONFIG",
	                                           "TB_FW_CONFIG", "SOC_FW_CONFIG"}));
	// Each image has its own measurement.
	for (std::size_t i = 0; i < a.sw_components.size(); ++i)
		for (std::size_t j = i + 1; j < a.sw_components.size(); ++j)
			EXPECT_NE(a.sw_components[i].measurement, a.sw_components[j].measurement);
}

TEST_F(AttestPlatformToken, OptionalFieldsAreLeftOutWhenEmpty)
{
	claims.verification_service.clear();
	claims.sw_components = {SwComponent{.measurement = Bytes(48, 0x11), .signer_id = Bytes(64, 0x22)}};
	const Bytes token = make_platform_token(claims, challenge_of(32), key);
	EXPECT_TRUE(signature_ok(token, key));
	Item payload = decode(split(token).payload);
	const auto e = entries(payload.get());
	std::vector<uint64_t> keys;
	for (const auto& [k, v] : e)
		keys.push_back(k);
	EXPECT_EQ(keys, (std::vector<uint64_t>{10, 256, 265, 2395, 2396, 2399, 2401, 2402}));
	std::map<uint64_t, const cbor_item_t*> m(e.begin(), e.end());
	const auto comps = elements(m.at(claim::kSwComponents));
	ASSERT_EQ(comps.size(), 1u);
	const auto ce = entries(comps[0]);
	ASSERT_EQ(ce.size(), 2u);
	EXPECT_EQ(ce[0].first, 2u);
	EXPECT_EQ(as_bytes(ce[0].second), Bytes(48, 0x11));
	EXPECT_EQ(ce[1].first, 5u);
	EXPECT_EQ(as_bytes(ce[1].second), Bytes(64, 0x22));
}

TEST_F(AttestPlatformToken, InvalidClaimsAreRefused)
{
	const Bytes c = challenge_of(32);
	auto refused = [&](auto mutate) {
		PlatformClaims bad = claims;
		mutate(bad);
		EXPECT_THROW(validate(bad), std::invalid_argument);
		EXPECT_THROW(make_platform_token(bad, c, key), std::invalid_argument);
	};
	EXPECT_NO_THROW(validate(claims));
	refused([](PlatformClaims& x) { x.profile.clear(); });
	refused([](PlatformClaims& x) { x.implementation_id.resize(31); });
	refused([](PlatformClaims& x) { x.instance_id.resize(32); });
	refused([](PlatformClaims& x) { x.instance_id[0] = 0x02; });
	refused([](PlatformClaims& x) { x.lifecycle = 0x3100; });
	refused([](PlatformClaims& x) { x.lifecycle = -1; });
	refused([](PlatformClaims& x) { x.lifecycle = 0x7000; });
	refused([](PlatformClaims& x) { x.sw_components.clear(); });
	refused([](PlatformClaims& x) { x.sw_components[0].measurement.resize(20); });
	refused([](PlatformClaims& x) { x.sw_components[1].signer_id.clear(); });
	refused([](PlatformClaims& x) { x.hash_alg.clear(); });
	refused([](PlatformClaims& x) { x.sw_components[3].type = "\xff"; });
	refused([](PlatformClaims& x) { x.verification_service = "\xc0\x80"; });
}

TEST(AttestDefaultClaims, LifecycleRanges)
{
	for (int64_t v : {0x0000, 0x00ff, 0x1000, 0x10ff, 0x2000, 0x3000, 0x30ff, 0x4000, 0x5000, 0x6000, 0x60ff})
		EXPECT_TRUE(valid_lifecycle(v)) << std::hex << v;
	for (int64_t v : {-1, 0x0100, 0x0fff, 0x1100, 0x2fff, 0x3100, 0x6100, 0x7000, 0xffff, 0x13000})
		EXPECT_FALSE(valid_lifecycle(v)) << std::hex << v;
}
