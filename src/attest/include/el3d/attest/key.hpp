#pragma once
// ECC P-384 (secp384r1) key pairs, ECDSA and the SHA-2 hashes used by the attestation SMCs:
//  - RMM_ATTEST_GET_REALM_KEY hands the RMM the realm attestation key (RAK) as its raw 48-byte private
//    scalar (private_scalar()).
//  - RMM_EL3_TOKEN_SIGN signs a SHA-384 hash with the RAK (sign_digest(), raw r||s, 96 bytes), and its
//    GET_RAK_PUB opcode returns the 97-byte uncompressed public point 0x04||X||Y
//    (public_uncompressed()).
//  - The platform key signs the CCA platform token (platform_token.hpp).
// OpenSSL 3's EVP_PKEY is underneath, through provider APIs only (no deprecated EC_KEY).
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY; kept out of this header so users need no OpenSSL includes

namespace el3d::attest {

inline constexpr std::size_t kP384ScalarSize = 48;
inline constexpr std::size_t kP384PublicSize = 97;     // 0x04 || X || Y
inline constexpr std::size_t kP384SignatureSize = 96;  // r || s, each big-endian, zero-padded to 48

// An ECC P-384 key pair. Never empty: every instance holds a complete key (there is no default
// constructor, and "moving" copies). Copies share the same immutable OpenSSL key by reference count,
// so they are cheap; all methods are const and safe to call from several threads at once.
// Failures inside OpenSSL (out of memory, a broken installation) throw std::runtime_error.
class EcKey {
public:
	// A fresh random key from OpenSSL's CSPRNG.
	static EcKey generate();
	// The key whose private scalar is `scalar48`, big-endian (the form get_realm_key hands out and the
	// form el3d persists). Throws std::invalid_argument unless it is exactly 48 bytes and in [1, n-1].
	// A scalar loaded lately (the last 32 kept) gives a copy of the key loaded then, without the scalar
	// multiplication a load costs: reopening or restoring a carveout file loads the same keys again.
	static EcKey from_private_scalar(std::span<const uint8_t> scalar48);
	// The key a seed gives (el3d --seed): its scalar is derived from `seed` and `label` with SHA-384, so
	// the same seed and label always give the same key and different labels unrelated ones. For
	// reproducible runs only: anyone who knows the seed knows the key.
	static EcKey derive(uint64_t seed, std::string_view label);
	// A copy that signs with deterministic nonces: k comes from HMAC-SHA-384 keyed with `nonce_key` over
	// the private scalar, the digest and a counter, so one key signs one digest with one signature (a
	// replayed run writes byte-identical tokens). The signatures are ordinary ECDSA and verify as such.
	EcKey with_deterministic_nonces(std::span<const uint8_t> nonce_key) const;
	bool deterministic() const { return nonce_key_ != nullptr; }

	EcKey(const EcKey& other) noexcept;
	EcKey& operator=(const EcKey& other) noexcept;
	~EcKey();

	// The private scalar, big-endian, left-padded with zeros to 48 bytes. Secret: wipe it when done.
	std::array<uint8_t, kP384ScalarSize> private_scalar() const;
	// The uncompressed public point 0x04 || X || Y (SEC 1 §2.3.3).
	std::array<uint8_t, kP384PublicSize> public_uncompressed() const;
	// The public key as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), for tools and verifiers.
	std::string public_pem() const;

	// ECDSA over a precomputed digest (normally SHA-384, 48 bytes; as always with ECDSA only its
	// leftmost 384 bits count). Returns r || s, 96 bytes. Randomised unless with_deterministic_nonces()
	// made this copy: two signatures of the same digest differ, both verify. Throws std::invalid_argument on an empty digest.
	std::vector<uint8_t> sign_digest(std::span<const uint8_t> digest) const;
	// True iff `rs96` (r || s, 96 bytes) is a valid signature of `digest` by this key. Malformed input
	// (wrong size, r or s out of range) is simply false.
	bool verify_digest(std::span<const uint8_t> digest, std::span<const uint8_t> rs96) const;

private:
	explicit EcKey(evp_pkey_st* pkey) noexcept;  // takes ownership of one reference
	std::vector<uint8_t> sign_deterministic(std::span<const uint8_t> digest) const;  // deterministic.cpp

	evp_pkey_st* pkey_;
	std::shared_ptr<const std::vector<uint8_t>> nonce_key_;  // set: deterministic signatures
};

std::array<uint8_t, 48> sha384(std::span<const uint8_t> data);
std::array<uint8_t, 32> sha256(std::span<const uint8_t> data);

}  // namespace el3d::attest
