#pragma once
// Private to the attest component: owning pointers for OpenSSL objects and its error handling.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/bio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace el3d::attest::ossl {

// unique_ptr deleters for OpenSSL objects, one per free function.
template <auto Fn>
struct Free {
	template <class T>
	void operator()(T* p) const noexcept
	{
		Fn(p);
	}
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<&EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<&EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<&BN_clear_free>>;  // clear: some hold private scalars
using GroupPtr = std::unique_ptr<EC_GROUP, Free<&EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Free<&EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Free<&OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Free<&OSSL_PARAM_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Free<&ECDSA_SIG_free>>;
using BioPtr = std::unique_ptr<BIO, Free<&BIO_free>>;

constexpr const char* kGroup = SN_secp384r1;  // "secp384r1", OpenSSL's name for P-384

// Throws with OpenSSL's reason for the most recent failure, and empties its per-thread error queue so
// the next failure is not blamed on this one.
[[noreturn]] inline void openssl_failure(const char* what)
{
	std::string msg = std::string("attest: ") + what;
	if (unsigned long e = ERR_peek_last_error()) {
		char buf[256];
		ERR_error_string_n(e, buf, sizeof buf);
		msg += ": ";
		msg += buf;
	}
	ERR_clear_error();
	throw std::runtime_error(msg);
}

template <class T>
T* check(T* p, const char* what)
{
	if (!p)
		openssl_failure(what);
	return p;
}

inline void check(int rc, const char* what)
{
	if (rc <= 0)
		openssl_failure(what);
}

// Big-endian, zero-padded to exactly `out.size()` bytes; fails if the number does not fit.
inline void bn_to_fixed(const BIGNUM* bn, std::span<uint8_t> out, const char* what)
{
	if (BN_bn2binpad(bn, out.data(), static_cast<int>(out.size())) != static_cast<int>(out.size()))
		openssl_failure(what);
}

}  // namespace el3d::attest::ossl
