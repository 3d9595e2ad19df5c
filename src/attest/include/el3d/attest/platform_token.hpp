#pragma once
// The Arm CCA platform attestation token that RMM_ATTEST_GET_PLAT_TOKEN returns: a CBOR claims map
// wrapped in a COSE_Sign1 (RFC 9052), signed with ES384 by a platform key.
//
//   COSE_Sign1_Tagged = #6.18([ protected: bstr .cbor {1: -35},   ; alg: ES384
//                               unprotected: {},
//                               payload: bstr .cbor claims,
//                               signature: bstr .size 96 ])       ; r || s
//   signature = ECDSA-P384(SHA-384(["Signature1", protected, h'', payload]))
//
// The claims follow the CCA platform profile "tag:arm.com,2023:cca_platform#1.0.0" of the IETF draft
// draft-ffm-rats-cca-token ("Arm's Confidential Compute Architecture Reference Attestation Token"),
// whose CDDL (and Veraison's ccatoken/psatoken, which decode it) give the keys and types below. The
// software-component map is the PSA one (RFC 9783, "Arm's Platform Security Architecture (PSA)
// Attestation Token"). Keys are emitted in ascending order with shortest-form heads (RFC 8949 §4.2.1),
// so equal claims and challenge give byte-identical payloads.
//
// In CCA the RMM passes, as the challenge, the hash of the realm attestation key's public key; the
// platform token thereby binds the RAK to the platform. This module only encodes whatever bytes it
// gets; the SMC handler owns the hunked copy-out (x3 = 0 continuation) and its state.
#include "el3d/attest/key.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace el3d::attest {

// Claim keys of the CCA platform claims map.
namespace claim {
inline constexpr uint64_t kChallenge = 10;                 // bstr .size (32 / 48 / 64)   EAT nonce
inline constexpr uint64_t kInstanceId = 256;               // bstr .size 33, 0x01 first   EAT ueid
inline constexpr uint64_t kProfile = 265;                  // tstr                        EAT profile
inline constexpr uint64_t kLifecycle = 2395;               // uint, see valid_lifecycle()
inline constexpr uint64_t kImplementationId = 2396;        // bstr .size 32
inline constexpr uint64_t kSwComponents = 2399;            // [+ sw-component]
inline constexpr uint64_t kVerificationService = 2400;     // tstr, optional
inline constexpr uint64_t kPlatformConfig = 2401;          // bstr
inline constexpr uint64_t kHashAlgorithm = 2402;           // tstr, e.g. "sha-256"
}  // namespace claim

// Keys of one software-component map (inside claim::kSwComponents). Key 3 is not defined.
namespace sw_claim {
inline constexpr uint64_t kType = 1;         // tstr, optional ("BL31", "RMM"...)
inline constexpr uint64_t kMeasurement = 2;  // bstr .size (32 / 48 / 64)
inline constexpr uint64_t kVersion = 4;      // tstr, optional
inline constexpr uint64_t kSignerId = 5;     // bstr .size (32 / 48 / 64)
inline constexpr uint64_t kHashAlg = 6;      // tstr, optional: the measurement's hash algorithm
}  // namespace sw_claim

inline constexpr uint64_t kCoseSign1Tag = 18;
inline constexpr int64_t kCoseHeaderAlg = 1;
inline constexpr int64_t kCoseAlgES384 = -35;
inline constexpr const char* kCcaPlatformProfile = "tag:arm.com,2023:cca_platform#1.0.0";

// One measured firmware component. Optional text fields are left out of the map when empty.
struct SwComponent {
	std::string type;                  // key 1
	std::vector<uint8_t> measurement;  // key 2: 32, 48 or 64 bytes
	std::string version;               // key 4
	std::vector<uint8_t> signer_id;    // key 5: 32, 48 or 64 bytes (hash of the signing authority)
	std::string hash_alg;              // key 6 ("sha-256")
};

// Everything in the platform claims map except the challenge, which each request supplies.
struct PlatformClaims {
	std::string profile = kCcaPlatformProfile;  // key 265
	std::vector<uint8_t> implementation_id;     // key 2396: 32 bytes
	std::vector<uint8_t> instance_id;           // key 256: 33 bytes, 0x01 || 32 bytes
	std::vector<uint8_t> config;                // key 2401
	int64_t lifecycle = 0x3000;                 // key 2395: "secured"
	std::vector<SwComponent> sw_components;     // key 2399: at least one
	// key 2400, left out when empty
	std::string verification_service = "https://veraison.example/.well-known/veraison/verification";
	std::string hash_alg = "sha-256";  // key 2402
};

// Lifecycle values the profile allows: 0x0000-0x00ff unknown, 0x1000-0x10ff assembly and test,
// 0x2000-0x20ff CCA platform RoT provisioning, 0x3000-0x30ff secured, 0x4000-0x40ff non-CCA platform
// RoT debug, 0x5000-0x50ff recoverable CCA platform RoT debug, 0x6000-0x60ff decommissioned.
bool valid_lifecycle(int64_t v);

// Throws std::invalid_argument, naming the claim, unless the claims fit the profile: non-empty profile
// and hash_alg, 32-byte implementation id, 33-byte instance id starting with 0x01, a valid lifecycle,
// at least one sw component, each with 32/48/64-byte measurement and signer id; text must be UTF-8.
void validate(const PlatformClaims& claims);

// el3d's emulated platform: plausible, deterministic claims. The instance id is 0x01 || SHA-256 of
// the platform key's uncompressed public point (so it identifies the key, as a real UEID derived from
// the IAK does); the implementation id, config, signer id and the measurements of BL1, BL2, BL31, RMM
// and the firmware config blobs are SHA-256 of fixed strings naming el3d, so nothing looks like real
// firmware data. The same key always gives the same claims.
PlatformClaims default_claims(const EcKey& platform_key);

// The claims map (the COSE payload) with the challenge claim set to `challenge`. Throws
// std::invalid_argument if the challenge is not 32, 48 or 64 bytes or the claims are invalid.
std::vector<uint8_t> encode_platform_claims(const PlatformClaims& claims, std::span<const uint8_t> challenge);

// The signed token, ready to copy to the RMM: COSE_Sign1 (tag 18) over encode_platform_claims(),
// protected header {1: -35}, signed by `platform_key` with ECDSA P-384 over SHA-384 of the
// Sig_structure. Throws as encode_platform_claims(). Not byte-reproducible: ECDSA is randomised, only
// the payload is.
std::vector<uint8_t> make_platform_token(const PlatformClaims& claims, std::span<const uint8_t> challenge,
                                         const EcKey& platform_key);

}  // namespace el3d::attest
