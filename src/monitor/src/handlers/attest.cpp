// RMM_ATTEST_GET_REALM_KEY (0xC40001B2) and RMM_ATTEST_GET_PLAT_TOKEN (0xC40001B3).
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

namespace el3d {

// RMM_ATTEST_GET_REALM_KEY
//   Inputs   x1  buffer PA (in the shared page), x2 buffer size, x3 curve (0 = ECC SECP384R1)
//   Outputs  x0  E_RMM_OK or an error; x1 key size (48); on failure the caller's x2, as TF-A
//                leaves it. The buffer receives the raw 48-byte private scalar of the realm
//                attestation key (generated once per carveout file, kept across resets).
//   Failure conditions, in order of checking:
//            E_RMM_BAD_ADDR  buffer does not start in the shared page
//            E_RMM_INVAL     size 0, or the buffer does not end in the shared page (el3d: also a
//                            size so large that TF-A's end computation wraps); curve != 0
//            E_RMM_UNK       buffer smaller than the key (TF-A's platform hook fails)
void handle_get_realm_key(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t buf = c.x(1), len = c.x(2), curve = c.x(3);
	if (int64_t e = m.check_shared_buffer(buf, len))
		return c.ret(e, len);
	if (curve != 0)
		return c.ret(EL3_E_RMM_INVAL, len);
	const auto key = m.realm_key.private_scalar();
	if (len < key.size()) {
		spdlog::info("cpu{} RMM_ATTEST_GET_REALM_KEY: E_RMM_UNK, buffer of {} bytes is smaller than the {}-byte key",
		             c.cpu, len, key.size());
		return c.ret(EL3_E_RMM_UNK, len);
	}
	std::memcpy(m.carveout->ptr(buf), key.data(), key.size());
	m.carveout->sync(buf, key.size());
	c.output(buf, m.carveout->ptr(buf), key.size());
	c.ret(EL3_E_RMM_OK, key.size());
}

// RMM_ATTEST_GET_PLAT_TOKEN
//   Inputs   x1  buffer PA (in the shared page); on a first call it starts with the challenge
//            x2  buffer size
//            x3  challenge size: 32, 48 or 64 to start a token, 0 to continue
//   Outputs  x0  E_RMM_OK or an error; x1 bytes copied into the buffer (the hunk); x2 bytes of the
//                token still to fetch. On failure x1 = the caller's x2 and x2 = 0, as TF-A leaves
//                them.
//   Failure conditions, in order of checking (TF-A's code; its specification lists E_RMM_AGAIN
//   first):
//            E_RMM_BAD_ADDR  buffer does not start in the shared page
//            E_RMM_INVAL     size 0, or the buffer does not end in the shared page (el3d: also a
//                            wrapping size); x3 not 0, 32, 48 or 64; x3 larger than the buffer
//                            (el3d: TF-A copies x3 bytes from it regardless)
//            E_RMM_AGAIN     fault rules with after_checks (--inject-again N: each hunk refused N times)
//            E_RMM_INVAL     x3 = 0 with no token started
// A new start (x3 != 0) always builds a fresh token. After the last hunk, further continuations
// return E_RMM_OK with 0 bytes and 0 remaining.
void handle_get_plat_token(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t buf = c.x(1), len = c.x(2), csize = c.x(3);
	auto fail = [&](int64_t e) { c.ret(e, len, 0); };
	if (int64_t e = m.check_shared_buffer(buf, len))
		return fail(e);
	if (csize != 0 && csize != 32 && csize != 48 && csize != 64)
		return fail(EL3_E_RMM_INVAL);
	if (csize > len) {
		spdlog::info("cpu{} RMM_ATTEST_GET_PLAT_TOKEN: E_RMM_INVAL, a {}-byte challenge does not fit a {}-byte buffer",
		             c.cpu, csize, len);
		return fail(EL3_E_RMM_INVAL);
	}

	// The check point of fault rules with after_checks (--inject-again N is one): E_RMM_AGAIN comes after the buffer
	// and challenge checks in TF-A's order.
	if (m.injected_at_check(c))
		return fail(static_cast<int64_t>(c.out[0]));
	PlatTokenState& t = m.plat_token;
	if (csize != 0) {
		const std::vector<uint8_t> challenge(m.carveout->ptr(buf), m.carveout->ptr(buf) + csize);
		c.input(buf, challenge.data(), csize);
		t.token = attest::make_platform_token(attest::default_claims(m.platform_key), challenge, m.platform_key);
		t.offset = 0;
		t.active = true;
		spdlog::info("cpu{} RMM_ATTEST_GET_PLAT_TOKEN: new {}-byte platform token for a {}-byte challenge", c.cpu,
		             t.token.size(), csize);
	} else if (!t.active) {
		spdlog::info("cpu{} RMM_ATTEST_GET_PLAT_TOKEN: E_RMM_INVAL, continuation with no token started", c.cpu);
		return fail(EL3_E_RMM_INVAL);
	}
	uint64_t hunk = std::min<uint64_t>(len, t.token.size() - t.offset);
	if (m.options.token_hunk_size != 0)
		hunk = std::min(hunk, m.options.token_hunk_size);
	if (hunk != 0) {
		std::memcpy(m.carveout->ptr(buf), t.token.data() + t.offset, hunk);
		m.carveout->sync(buf, hunk);
		c.output(buf, m.carveout->ptr(buf), hunk);
	}
	t.offset += hunk;
	m.commit();
	c.ret(EL3_E_RMM_OK, hunk, t.token.size() - t.offset);
}

}  // namespace el3d
