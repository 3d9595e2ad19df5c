#include "el3d/attest/key.hpp"

#include "ossl.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

namespace el3d::attest {
namespace {

using namespace ossl;

template <std::size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::span<const uint8_t> data)
{
	std::array<uint8_t, N> out{};
	unsigned int len = 0;
	check(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr), "EVP_Digest");
	if (len != N)
		openssl_failure("unexpected digest length");
	return out;
}

// Keys loaded from their scalars lately: a load is a scalar multiplication (Q = d*G), which a daemon that
// reopens or restores a carveout file, and the tests and fuzz targets that reopen files all the time, would
// otherwise repeat for the same few keys. Entries are copies (one more reference to an immutable key).
class LoadedKeys {
public:
	std::optional<EcKey> find(std::span<const uint8_t> scalar)
	{
		std::lock_guard lock(mu_);
		for (const Entry& e : entries_)
			if (CRYPTO_memcmp(e.scalar.data(), scalar.data(), kP384ScalarSize) == 0)
				return e.key;
		return std::nullopt;
	}
	void add(std::span<const uint8_t> scalar, const EcKey& key)
	{
		std::lock_guard lock(mu_);
		Entry e{{}, key};
		std::copy(scalar.begin(), scalar.end(), e.scalar.begin());
		if (entries_.size() < kCapacity)
			entries_.push_back(std::move(e));
		else
			entries_[next_++ % kCapacity] = std::move(e);
	}

private:
	static constexpr std::size_t kCapacity = 32;
	struct Entry {
		std::array<uint8_t, kP384ScalarSize> scalar;
		EcKey key;
	};
	std::mutex mu_;
	std::vector<Entry> entries_;
	std::size_t next_ = 0;
};

LoadedKeys& loaded_keys()
{
	static LoadedKeys* keys = new LoadedKeys;  // never destroyed: keys may be loaded while the process exits
	return *keys;
}

}  // namespace

EcKey::EcKey(evp_pkey_st* pkey) noexcept : pkey_(pkey) {}

EcKey::EcKey(const EcKey& other) noexcept : pkey_(other.pkey_), nonce_key_(other.nonce_key_)
{
	// Keys are never modified after creation, so sharing one EVP_PKEY between copies (and threads) is
	// safe; OpenSSL's reference count frees it with the last copy.
	EVP_PKEY_up_ref(pkey_);
}

EcKey& EcKey::operator=(const EcKey& other) noexcept
{
	EVP_PKEY_up_ref(other.pkey_);  // first, so self-assignment cannot free the key
	EVP_PKEY_free(pkey_);
	pkey_ = other.pkey_;
	nonce_key_ = other.nonce_key_;
	return *this;
}

EcKey::~EcKey() { EVP_PKEY_free(pkey_); }

EcKey EcKey::generate()
{
	PkeyCtxPtr ctx(check(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), "EVP_PKEY_CTX_new_from_name"));
	check(EVP_PKEY_keygen_init(ctx.get()), "EVP_PKEY_keygen_init");
	check(EVP_PKEY_CTX_set_group_name(ctx.get(), kGroup), "EVP_PKEY_CTX_set_group_name");
	EVP_PKEY* pkey = nullptr;
	check(EVP_PKEY_generate(ctx.get(), &pkey), "EVP_PKEY_generate");
	return EcKey(pkey);
}

EcKey EcKey::from_private_scalar(std::span<const uint8_t> scalar48)
{
	if (scalar48.size() != kP384ScalarSize)
		throw std::invalid_argument("attest: a P-384 private scalar is 48 bytes, got " +
		                            std::to_string(scalar48.size()));
	if (auto known = loaded_keys().find(scalar48))
		return *known;

	GroupPtr group(check(EC_GROUP_new_by_curve_name(NID_secp384r1), "EC_GROUP_new_by_curve_name"));
	BnPtr d(check(BN_secure_new(), "BN_secure_new"));
	check(BN_bin2bn(scalar48.data(), static_cast<int>(scalar48.size()), d.get()), "BN_bin2bn");
	if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0)
		throw std::invalid_argument("attest: the private scalar is not in [1, n-1] for P-384");

	// OpenSSL 3.0's EVP_PKEY_fromdata does not derive the public point from the private scalar, and a
	// key without it can sign but not export or verify. Compute Q = d*G ourselves (EC_GROUP/EC_POINT
	// are not part of the deprecated EC_KEY API).
	PointPtr q(check(EC_POINT_new(group.get()), "EC_POINT_new"));
	check(EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, nullptr), "EC_POINT_mul");
	std::array<uint8_t, kP384PublicSize> pub{};
	if (EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(), pub.size(), nullptr) !=
	    pub.size())
		openssl_failure("EC_POINT_point2oct");

	ParamBldPtr bld(check(OSSL_PARAM_BLD_new(), "OSSL_PARAM_BLD_new"));
	check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroup, 0), "push group");
	check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()), "push private key");
	check(OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size()),
	      "push public key");
	ParamPtr params(check(OSSL_PARAM_BLD_to_param(bld.get()), "OSSL_PARAM_BLD_to_param"));

	PkeyCtxPtr ctx(check(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), "EVP_PKEY_CTX_new_from_name"));
	check(EVP_PKEY_fromdata_init(ctx.get()), "EVP_PKEY_fromdata_init");
	EVP_PKEY* pkey = nullptr;
	check(EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()), "EVP_PKEY_fromdata");
	EcKey key(pkey);
	loaded_keys().add(scalar48, key);
	return key;
}

std::array<uint8_t, kP384ScalarSize> EcKey::private_scalar() const
{
	BIGNUM* raw = nullptr;
	check(EVP_PKEY_get_bn_param(pkey_, OSSL_PKEY_PARAM_PRIV_KEY, &raw), "EVP_PKEY_get_bn_param(priv)");
	BnPtr d(raw);
	std::array<uint8_t, kP384ScalarSize> out{};
	bn_to_fixed(d.get(), out, "private scalar does not fit 48 bytes");
	return out;
}

std::array<uint8_t, kP384PublicSize> EcKey::public_uncompressed() const
{
	// Keys made here (generated, or imported from an uncompressed point) keep OpenSSL's default
	// uncompressed point format, so this is 0x04 || X || Y; check rather than trust.
	std::array<uint8_t, kP384PublicSize> out{};
	std::size_t len = 0;
	check(EVP_PKEY_get_octet_string_param(pkey_, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(), &len),
	      "EVP_PKEY_get_octet_string_param(pub)");
	if (len != out.size() || out[0] != 0x04)
		openssl_failure("public key is not an uncompressed P-384 point");
	return out;
}

std::string EcKey::public_pem() const
{
	BioPtr bio(check(BIO_new(BIO_s_mem()), "BIO_new"));
	check(PEM_write_bio_PUBKEY(bio.get(), pkey_), "PEM_write_bio_PUBKEY");
	char* data = nullptr;
	const long len = BIO_get_mem_data(bio.get(), &data);
	if (len <= 0 || !data)
		openssl_failure("BIO_get_mem_data");
	return std::string(data, static_cast<std::size_t>(len));
}

std::vector<uint8_t> EcKey::sign_digest(std::span<const uint8_t> digest) const
{
	if (digest.empty())
		throw std::invalid_argument("attest: cannot sign an empty digest");
	if (nonce_key_)
		return sign_deterministic(digest);
	// No signature digest is set on the context, so OpenSSL signs the bytes as given, of any length.
	PkeyCtxPtr ctx(check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr), "EVP_PKEY_CTX_new_from_pkey"));
	check(EVP_PKEY_sign_init(ctx.get()), "EVP_PKEY_sign_init");
	std::size_t der_len = 0;
	check(EVP_PKEY_sign(ctx.get(), nullptr, &der_len, digest.data(), digest.size()), "EVP_PKEY_sign(size)");
	std::vector<uint8_t> der(der_len);
	check(EVP_PKEY_sign(ctx.get(), der.data(), &der_len, digest.data(), digest.size()), "EVP_PKEY_sign");

	// OpenSSL produces DER (SEQUENCE { r INTEGER, s INTEGER }); COSE and the EL3 token-sign response
	// want the fixed-width concatenation.
	const unsigned char* p = der.data();
	SigPtr sig(check(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)), "d2i_ECDSA_SIG"));
	const BIGNUM* r = nullptr;
	const BIGNUM* s = nullptr;
	ECDSA_SIG_get0(sig.get(), &r, &s);
	std::vector<uint8_t> out(kP384SignatureSize);
	bn_to_fixed(r, std::span(out).first(48), "r does not fit 48 bytes");
	bn_to_fixed(s, std::span(out).last(48), "s does not fit 48 bytes");
	return out;
}

bool EcKey::verify_digest(std::span<const uint8_t> digest, std::span<const uint8_t> rs96) const
{
	if (digest.empty() || rs96.size() != kP384SignatureSize)
		return false;
	SigPtr sig(check(ECDSA_SIG_new(), "ECDSA_SIG_new"));
	BnPtr r(check(BN_bin2bn(rs96.data(), 48, nullptr), "BN_bin2bn(r)"));
	BnPtr s(check(BN_bin2bn(rs96.data() + 48, 48, nullptr), "BN_bin2bn(s)"));
	check(ECDSA_SIG_set0(sig.get(), r.get(), s.get()), "ECDSA_SIG_set0");
	r.release();  // now owned by sig
	s.release();

	unsigned char* der = nullptr;
	const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
	if (der_len <= 0)
		openssl_failure("i2d_ECDSA_SIG");
	std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(
	    der, [](unsigned char* q) { OPENSSL_free(q); });

	PkeyCtxPtr ctx(check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr), "EVP_PKEY_CTX_new_from_pkey"));
	check(EVP_PKEY_verify_init(ctx.get()), "EVP_PKEY_verify_init");
	// 1 = valid; 0 = bad signature; < 0 = malformed (e.g. r or s zero or >= n). Only 1 is a yes, and a
	// no leaves nothing in the error queue for a later, unrelated failure to report.
	const int rc = EVP_PKEY_verify(ctx.get(), der, static_cast<std::size_t>(der_len), digest.data(), digest.size());
	ERR_clear_error();
	return rc == 1;
}

std::array<uint8_t, 48> sha384(std::span<const uint8_t> data) { return digest<48>(EVP_sha384(), data); }

std::array<uint8_t, 32> sha256(std::span<const uint8_t> data) { return digest<32>(EVP_sha256(), data); }

}  // namespace el3d::attest
