// Reproducible keys and signatures for el3d --seed: a key derived from a seed, and ECDSA whose nonce
// is derived from the key, the digest and a secret instead of drawn at random, so that a replayed run
// produces the same tokens byte for byte. The signatures are ordinary P-384 ECDSA (any verifier accepts
// them); only the choice of k differs, in the spirit of RFC 6979 (which OpenSSL 3.0 does not offer).
#include "el3d/attest/key.hpp"

#include "ossl.hpp"

#include <openssl/core_names.h>
#include <openssl/hmac.h>

#include <cstring>

namespace el3d::attest {

using namespace ossl;

namespace {

using BnCtxPtr = std::unique_ptr<BN_CTX, Free<&BN_CTX_free>>;

// n of P-384.
const BIGNUM* order(const EC_GROUP* g) { return EC_GROUP_get0_order(g); }

}  // namespace

EcKey EcKey::derive(uint64_t seed, std::string_view label)
{
	// scalar = SHA-384("el3d key" || label || 0 || seed || counter), retried in the (2^-190) case that it
	// is not in [1, n-1].
	for (uint32_t counter = 0;; ++counter) {
		std::vector<uint8_t> msg;
		const std::string prefix = "el3d key ";
		msg.insert(msg.end(), prefix.begin(), prefix.end());
		msg.insert(msg.end(), label.begin(), label.end());
		msg.push_back(0);
		for (int i = 0; i < 8; ++i)
			msg.push_back(static_cast<uint8_t>(seed >> (8 * i)));
		for (int i = 0; i < 4; ++i)
			msg.push_back(static_cast<uint8_t>(counter >> (8 * i)));
		auto scalar = sha384(msg);
		try {
			EcKey k = from_private_scalar(scalar);
			OPENSSL_cleanse(scalar.data(), scalar.size());
			return k;
		} catch (const std::invalid_argument&) {
			OPENSSL_cleanse(scalar.data(), scalar.size());
		}
	}
}

EcKey EcKey::with_deterministic_nonces(std::span<const uint8_t> nonce_key) const
{
	EcKey k(*this);
	k.nonce_key_ = std::make_shared<const std::vector<uint8_t>>(nonce_key.begin(), nonce_key.end());
	return k;
}

std::vector<uint8_t> EcKey::sign_deterministic(std::span<const uint8_t> digest) const
{
	GroupPtr group(check(EC_GROUP_new_by_curve_name(NID_secp384r1), "EC_GROUP_new_by_curve_name"));
	BnCtxPtr bctx(check(BN_CTX_secure_new(), "BN_CTX_secure_new"));
	const BIGNUM* n = order(group.get());

	BIGNUM* raw = nullptr;
	check(EVP_PKEY_get_bn_param(pkey_, OSSL_PKEY_PARAM_PRIV_KEY, &raw), "EVP_PKEY_get_bn_param(priv)");
	BnPtr d(raw);
	std::array<uint8_t, kP384ScalarSize> d_bytes{};
	bn_to_fixed(d.get(), d_bytes, "private scalar does not fit 48 bytes");

	// e: the leftmost 384 bits of the digest, as ECDSA takes them.
	const std::size_t elen = std::min<std::size_t>(digest.size(), kP384ScalarSize);
	BnPtr e(check(BN_bin2bn(digest.data(), static_cast<int>(elen), nullptr), "BN_bin2bn(e)"));

	BnPtr k(check(BN_secure_new(), "BN_secure_new"));
	BnPtr kinv(check(BN_secure_new(), "BN_secure_new"));
	BnPtr r(check(BN_new(), "BN_new"));
	BnPtr s(check(BN_new(), "BN_new"));
	BnPtr x(check(BN_new(), "BN_new"));
	BnPtr tmp(check(BN_secure_new(), "BN_secure_new"));
	PointPtr R(check(EC_POINT_new(group.get()), "EC_POINT_new"));
	for (uint32_t counter = 0;; ++counter) {
		// k = HMAC-SHA-384(nonce_key, d || digest || counter) mod n, retried while k, r or s is zero.
		std::vector<uint8_t> msg(d_bytes.begin(), d_bytes.end());
		msg.insert(msg.end(), digest.begin(), digest.end());
		for (int i = 0; i < 4; ++i)
			msg.push_back(static_cast<uint8_t>(counter >> (8 * i)));
		uint8_t mac[EVP_MAX_MD_SIZE];
		unsigned int mac_len = 0;
		check(HMAC(EVP_sha384(), nonce_key_->data(), static_cast<int>(nonce_key_->size()), msg.data(), msg.size(), mac,
		           &mac_len) != nullptr ? 1 : 0,
		      "HMAC");
		OPENSSL_cleanse(msg.data(), msg.size());
		check(BN_bin2bn(mac, static_cast<int>(mac_len), k.get()) != nullptr ? 1 : 0, "BN_bin2bn(k)");
		OPENSSL_cleanse(mac, sizeof mac);
		check(BN_nnmod(k.get(), k.get(), n, bctx.get()), "BN_nnmod(k)");
		if (BN_is_zero(k.get()))
			continue;
		// r = (k*G).x mod n
		check(EC_POINT_mul(group.get(), R.get(), k.get(), nullptr, nullptr, bctx.get()), "EC_POINT_mul");
		check(EC_POINT_get_affine_coordinates(group.get(), R.get(), x.get(), nullptr, bctx.get()), "get_affine");
		check(BN_nnmod(r.get(), x.get(), n, bctx.get()), "BN_nnmod(r)");
		if (BN_is_zero(r.get()))
			continue;
		// s = k^-1 (e + r*d) mod n
		check(BN_mod_inverse(kinv.get(), k.get(), n, bctx.get()) != nullptr ? 1 : 0, "BN_mod_inverse");
		check(BN_mod_mul(tmp.get(), r.get(), d.get(), n, bctx.get()), "BN_mod_mul(r*d)");
		check(BN_mod_add(tmp.get(), tmp.get(), e.get(), n, bctx.get()), "BN_mod_add");
		check(BN_mod_mul(s.get(), kinv.get(), tmp.get(), n, bctx.get()), "BN_mod_mul(s)");
		if (BN_is_zero(s.get()))
			continue;
		break;
	}
	OPENSSL_cleanse(d_bytes.data(), d_bytes.size());
	std::vector<uint8_t> out(kP384SignatureSize);
	bn_to_fixed(r.get(), std::span(out).first(48), "r does not fit 48 bytes");
	bn_to_fixed(s.get(), std::span(out).last(48), "s does not fit 48 bytes");
	return out;
}

}  // namespace el3d::attest
