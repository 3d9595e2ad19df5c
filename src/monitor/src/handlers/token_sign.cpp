// RMM_EL3_TOKEN_SIGN, FID 0xC40001B5 (offered unless --no-token-sign).
//
//   Inputs   x1  operation: 1 PUSH_REQ, 2 PULL_RESP, 3 GET_RAK_PUB
//            x2  buffer PA (in the shared page), x3 buffer size, x4 curve (GET_RAK_PUB only)
//   Outputs  x0  E_RMM_OK or an error; x1 public key size (GET_RAK_PUB)
//   Failure conditions, in order of checking:
//            unknown operation: E_RMM_INVAL (seed: the seed defines its interface by the
//                               specification's text, which says E_RMM_INVAL) / SMC_UNK (tfa
//                               profiles: they emulate TF-A's code, which answers SMC_UNK, as it
//                               already did when the seed was written)
//            E_RMM_BAD_ADDR  buffer does not start in the shared page
//            E_RMM_INVAL     size 0, or the buffer does not end in the shared page (el3d: also a
//                            wrapping size)
//   PUSH_REQ:  E_RMM_INVAL size < 0x60, sig_alg_id != 0 (ECDSA P-384) or hash_alg_id != 1 (SHA-384);
//              E_RMM_AGAIN the queue (--sign-queue-depth) is full
//   PULL_RESP: E_RMM_INVAL size < 0x218; E_RMM_AGAIN no signed response yet
//   GET_RAK_PUB: E_RMM_INVAL curve != 0; E_RMM_UNK buffer smaller than the 97-byte key
// Requests are signed with the realm attestation key, on a background worker, after
// --sign-delay; responses come back in the order they were signed.
#include "../monitor_impl.hpp"

#include "el3d/smc.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace el3d {

namespace {
constexpr uint64_t kPush = 1, kPull = 2, kGetRakPub = 3;
}

void handle_token_sign(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t op = c.x(1), buf = c.x(2), len = c.x(3), curve = c.x(4);
	if (op != kPush && op != kPull && op != kGetRakPub)
		return c.ret(m.options.abi == Abi::Seed ? EL3_E_RMM_INVAL : EL3_E_RMM_UNK);
	if (int64_t e = m.check_shared_buffer(buf, len))
		return c.ret(e);

	if (op == kPush) {
		if (len < kSignRequestSize)
			return c.ret(EL3_E_RMM_INVAL);
		c.input(buf, m.carveout->ptr(buf), kSignRequestSize);
		const SignRequest req = SignRequest::decode(m.carveout->ptr(buf));
		if (req.sig_alg_id != kSigAlgEcdsaP384 || req.hash_alg_id != kHashAlgSha384) {
			spdlog::info("cpu{} RMM_EL3_TOKEN_SIGN push: E_RMM_INVAL, sig_alg_id {} hash_alg_id {}", c.cpu,
			             req.sig_alg_id, req.hash_alg_id);
			return c.ret(EL3_E_RMM_INVAL);
		}
		if (!m.signer->push(req))
			return c.ret(EL3_E_RMM_AGAIN);
		m.commit();
		return c.ret(EL3_E_RMM_OK);
	}
	if (op == kPull) {
		if (len < kSignResponseSize)
			return c.ret(EL3_E_RMM_INVAL);
		auto resp = m.signer->pull();
		if (!resp)
			return c.ret(EL3_E_RMM_AGAIN);
		resp->encode(m.carveout->ptr(buf));
		m.carveout->sync(buf, kSignResponseSize);
		c.output(buf, m.carveout->ptr(buf), kSignResponseSize);
		m.commit();
		return c.ret(EL3_E_RMM_OK);
	}
	// GET_RAK_PUB
	if (curve != 0)
		return c.ret(EL3_E_RMM_INVAL);
	const auto pub = m.realm_key.public_uncompressed();
	if (len < pub.size())
		return c.ret(EL3_E_RMM_UNK);
	std::memcpy(m.carveout->ptr(buf), pub.data(), pub.size());
	m.carveout->sync(buf, pub.size());
	c.output(buf, m.carveout->ptr(buf), pub.size());
	c.ret(EL3_E_RMM_OK, pub.size());
}

}  // namespace el3d
