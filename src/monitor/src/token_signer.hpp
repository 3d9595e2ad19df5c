#pragma once
// The emulated EL3 token signer behind RMM_EL3_TOKEN_SIGN: requests are pushed into a bounded
// queue, signed on a background worker after a configurable delay (so that an RMM meets
// E_RMM_AGAIN for real), and pulled back in the order they completed.
#include "el3d/attest/cbor.hpp"
#include "el3d/attest/key.hpp"
#include "el3d/attest/platform_token.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace el3d {

// Layouts of the request and response in the shared buffer (docs/abi.md).
inline constexpr uint64_t kSignRequestSize = 0x60;
inline constexpr uint64_t kSignResponseSize = 0x218;  // 0x212 of fields, padded to 8 bytes
inline constexpr uint32_t kSigAlgEcdsaP384 = 0;
inline constexpr uint32_t kHashAlgSha384 = 1;

struct SignRequest {
	uint32_t sig_alg_id = 0;
	uint64_t rec_granule = 0;  // opaque to EL3, handed back in the response
	uint64_t req_ticket = 0;   // opaque to EL3, handed back in the response
	uint32_t hash_alg_id = 0;
	std::array<uint8_t, 64> hash{};

	static SignRequest decode(const uint8_t* buf);  // kSignRequestSize bytes
};

struct SignResponse {
	uint64_t rec_granule = 0;
	uint64_t req_ticket = 0;
	std::vector<uint8_t> signature;  // raw r||s

	void encode(uint8_t* buf) const;  // kSignResponseSize bytes
};

class TokenSigner {
public:
	// `synchronous`: each request is signed as it is pushed (el3d --seed: the answers depend on the
	// order of the calls only, not on time, so a recorded run replays identically).
	TokenSigner(const attest::EcKey& key, unsigned depth, std::chrono::milliseconds delay, bool synchronous = false);
	~TokenSigner();
	TokenSigner(const TokenSigner&) = delete;
	TokenSigner& operator=(const TokenSigner&) = delete;

	// False when `depth` requests are already pushed and not pulled.
	bool push(const SignRequest& req);
	// The oldest signed response, if any.
	std::optional<SignResponse> pull();

	struct Counts {
		uint64_t pending, ready, done;
	};
	Counts counts() const;

	// Requests not yet pulled; on load, requests not yet signed are queued again.
	void encode(attest::cbor::Writer& w) const;  // the state document's "signer" (state_doc.cpp)
	void load(const nlohmann::json& j);
	void clear();

private:
	void schedule(std::shared_ptr<SignRequest> req);
	struct Worker;
	std::unique_ptr<Worker> worker_;  // started by the first request signed in the background
	const attest::EcKey& key_;
	unsigned depth_;
	std::chrono::milliseconds delay_;
	bool synchronous_;
	mutable std::mutex mu_;
	std::deque<std::shared_ptr<SignRequest>> pending_;
	std::deque<SignResponse> ready_;
	uint64_t done_ = 0;
	uint64_t generation_ = 0;  // bumped by clear(): results of older requests are dropped
};

}  // namespace el3d
