// Attestation through the dispatch entry: the realm key, the platform token in hunks, token
// signing on the background worker, and persistence of all of it.
#include "el3d/attest/key.hpp"
#include "monitor_fixture.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

using namespace el3d;
using el3d::test::MonitorTest;

namespace {
constexpr uint64_t S = 0xFFBFF000;
}

class Attestation : public MonitorTest {
protected:
	void open_with(MonitorOptions o) { open(o); }
	std::vector<uint8_t> mem(uint64_t pa, uint64_t n)
	{
		std::vector<uint8_t> v;
		EXPECT_TRUE(monitor->read_memory(pa, n, v));
		return v;
	}
	void put(uint64_t pa, const std::vector<uint8_t>& b) { ASSERT_TRUE(monitor->write_memory(pa, b.data(), b.size())); }
	std::vector<uint8_t> fetch_token(uint64_t buf_size, unsigned challenge_size)
	{
		std::vector<uint8_t> challenge(challenge_size);
		for (unsigned i = 0; i < challenge_size; ++i)
			challenge[i] = static_cast<uint8_t>(0xC0 + i);
		put(S, challenge);
		std::vector<uint8_t> token;
		uint64_t csize = challenge_size;
		for (int guard = 0; guard < 10000; ++guard) {
			auto r = smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, buf_size, csize});
			if (static_cast<int64_t>(r[0]) == EL3_E_RMM_AGAIN)
				continue;  // retry the same call
			EXPECT_EQ(r[0], 0u);
			auto hunk = mem(S, r[1]);
			token.insert(token.end(), hunk.begin(), hunk.end());
			csize = 0;
			if (r[2] == 0)
				break;
		}
		return token;
	}
};

TEST_F(Attestation, RealmKeyIsTheRakAndPersists)
{
	auto r = smc(EL3_FID_RMM_ATTEST_GET_REALM_KEY, {S, 0x1000, 0});
	ASSERT_EQ(r[0], 0u);
	EXPECT_EQ(r[1], 48u);
	auto scalar = mem(S, 48);
	auto key = attest::EcKey::from_private_scalar(scalar);
	auto pub = key.public_uncompressed();
	EXPECT_EQ(std::vector<uint8_t>(pub.begin(), pub.end()), monitor->status().realm_key);
	// GET_RAK_PUB gives the same key's public half.
	auto p = smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {3, S + 0x100, 0x200, 0});
	ASSERT_EQ(p[0], 0u);
	EXPECT_EQ(p[1], 97u);
	EXPECT_EQ(mem(S + 0x100, 97), std::vector<uint8_t>(pub.begin(), pub.end()));
	// Same key after a restart and after a reset.
	open();
	monitor->reset();
	smc(EL3_FID_RMM_ATTEST_GET_REALM_KEY, {S, 0x1000, 0});
	EXPECT_EQ(mem(S, 48), scalar);
}

TEST_F(Attestation, PlatformTokenInHunksVerifies)
{
	MonitorOptions o;
	o.token_hunk_size = 100;
	open_with(o);
	auto token = fetch_token(0x1000, 48);
	ASSERT_GT(token.size(), 500u);
	EXPECT_EQ(token[0], 0xD2);  // CBOR tag 18: COSE_Sign1
	// Past the end: OK with nothing more.
	auto r = smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 0});
	EXPECT_EQ(r[0], 0u);
	EXPECT_EQ(r[1], 0u);
	EXPECT_EQ(r[2], 0u);
	// The challenge is inside the signed payload.
	std::vector<uint8_t> challenge(48);
	for (unsigned i = 0; i < 48; ++i)
		challenge[i] = static_cast<uint8_t>(0xC0 + i);
	EXPECT_NE(std::search(token.begin(), token.end(), challenge.begin(), challenge.end()), token.end());
}

TEST_F(Attestation, HunkRetrievalSurvivesADaemonRestart)
{
	MonitorOptions o;
	o.token_hunk_size = 200;
	open_with(o);
	put(S, std::vector<uint8_t>(32, 7));
	auto first = smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 32});
	ASSERT_EQ(first[0], 0u);
	const uint64_t remaining = first[2];
	open_with(o);
	auto next = smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 0});
	EXPECT_EQ(next[0], 0u);
	EXPECT_EQ(next[2], remaining - next[1]);
}

TEST_F(Attestation, InjectedAgainThenServed)
{
	MonitorOptions o;
	o.inject_again = 3;
	open_with(o);
	put(S, std::vector<uint8_t>(64, 1));
	for (int i = 0; i < 3; ++i)
		EXPECT_EQ(static_cast<int64_t>(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 64})[0]), EL3_E_RMM_AGAIN);
	auto r = smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x1000, 64});
	EXPECT_EQ(r[0], 0u);
	EXPECT_GT(r[1], 0u);
}

TEST_F(Attestation, TokenSignIsAsynchronousAndVerifies)
{
	MonitorOptions o;
	o.sign_delay = std::chrono::milliseconds(100);
	o.sign_queue_depth = 2;
	open_with(o);
	std::vector<uint8_t> req(0x60, 0);
	const uint64_t granule = 0x88000000, ticket = 0x5151;
	const uint32_t hash_alg = 1;
	std::memcpy(&req[0x08], &granule, 8);
	std::memcpy(&req[0x10], &ticket, 8);
	std::memcpy(&req[0x18], &hash_alg, 4);
	const auto digest = attest::sha384(std::vector<uint8_t>{'r', 'e', 'm'});
	std::memcpy(&req[0x20], digest.data(), 48);
	put(S, req);
	ASSERT_EQ(smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {1, S, 0x60})[0], 0u);
	ASSERT_EQ(smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {1, S, 0x60})[0], 0u);
	EXPECT_EQ(static_cast<int64_t>(smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {1, S, 0x60})[0]), EL3_E_RMM_AGAIN);  // depth 2
	EXPECT_EQ(static_cast<int64_t>(smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {2, S, 0x218})[0]), EL3_E_RMM_AGAIN);  // not yet
	// Pending requests survive a restart and are signed by the new instance.
	open_with(o);
	uint64_t pulled = 0;
	for (int i = 0; i < 200 && pulled < 2; ++i) {
		auto r = smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {2, S, 0x218});
		if (static_cast<int64_t>(r[0]) == EL3_E_RMM_AGAIN) {
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
			continue;
		}
		ASSERT_EQ(r[0], 0u);
		auto resp = mem(S, 0x218);
		uint64_t g, t;
		uint16_t len;
		std::memcpy(&g, &resp[0], 8);
		std::memcpy(&t, &resp[8], 8);
		std::memcpy(&len, &resp[0x10], 2);
		EXPECT_EQ(g, granule);
		EXPECT_EQ(t, ticket);
		ASSERT_EQ(len, 96u);
		std::vector<uint8_t> sig(resp.begin() + 0x12, resp.begin() + 0x12 + 96);
		auto rak = attest::EcKey::from_private_scalar([&] {
			smc(EL3_FID_RMM_ATTEST_GET_REALM_KEY, {S + 0x800, 0x100, 0});
			return mem(S + 0x800, 48);
		}());
		EXPECT_TRUE(rak.verify_digest(digest, sig));
		++pulled;
	}
	EXPECT_EQ(pulled, 2u);
	auto s = monitor->status();
	EXPECT_EQ(s.sign_done, 2u);
	EXPECT_EQ(s.sign_pending + s.sign_ready, 0u);
}

// The state document a commit writes (as CBOR, without a JSON tree: state_doc.cpp) holds every part, and a
// reopened file reads back to the same document: boot progress and failure, both keys, a platform token in
// the middle of its retrieval, and signing requests still pending.
TEST_F(Attestation, TheStateDocumentHoldsEveryPartAndReadsBackTheSame)
{
	MonitorOptions o;
	o.sign_delay = std::chrono::seconds(30);  // the requests stay pending
	o.sign_queue_depth = 2;
	open_with(o);
	ASSERT_GE(x0(alloc(0x1000, 12, 1)), 0);
	ASSERT_EQ(smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 1)[0], 0u);
	put(S, std::vector<uint8_t>(32, 0xC5));
	ASSERT_EQ(smc(EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, {S, 0x40, 32})[0], 0u);  // the first hunk of several
	std::vector<uint8_t> req(0x60, 0);
	const uint64_t granule = 0x88000000, ticket = 0x5151;
	std::memcpy(&req[0x08], &granule, 8);
	std::memcpy(&req[0x10], &ticket, 8);
	req[0x18] = 1;
	std::fill(req.begin() + 0x20, req.end(), 0xAB);
	put(S, req);
	ASSERT_EQ(smc(EL3_FID_RMM_EL3_TOKEN_SIGN, {1, S, 0x60})[0], 0u);

	const nlohmann::json doc = monitor->carveout().state();  // decoded from what the last commit wrote
	ASSERT_TRUE(doc.is_object());
	EXPECT_EQ(doc["boot"]["activation"], 1u);
	ASSERT_EQ(doc["boot"]["cpus"].size(), 2u) << doc.dump();  // cpu0 (its SMCs) and cpu1 (its report)
	EXPECT_EQ(doc["boot"]["cpus"][1]["cpu"], 1u);
	EXPECT_EQ(doc["boot"]["cpus"][1]["state"], "booted");
	EXPECT_EQ(doc["boot"]["cpus"][1]["completions"], 1u);
	EXPECT_FALSE(doc["boot"].contains("failure"));
	EXPECT_EQ(doc["keys"]["realm"].get_binary().size(), 48u);
	EXPECT_EQ(doc["keys"]["platform"].get_binary().size(), 48u);
	EXPECT_NE(doc["keys"]["realm"], doc["keys"]["platform"]);
	EXPECT_EQ(doc["plat_token"]["active"], true);
	EXPECT_EQ(doc["plat_token"]["offset"], 0x40u);
	EXPECT_GT(doc["plat_token"]["token"].get_binary().size(), 0x40u);
	ASSERT_EQ(doc["signer"]["pending"].size(), 1u);
	EXPECT_EQ(doc["signer"]["pending"][0]["ticket"], ticket);
	EXPECT_EQ(doc["signer"]["pending"][0]["hash"].get_binary().size(), 64u);
	EXPECT_EQ(doc["signer"]["done"], 0u);
	EXPECT_EQ(doc["mec_refreshes"], 0u);
	EXPECT_TRUE(doc["gpt_premarks"].is_array());
	EXPECT_TRUE(doc["gpt_device_realm"].is_array());
	EXPECT_FALSE(doc.contains("reset_pending"));

	const auto before = monitor->status();
	open_with(o);
	EXPECT_EQ(monitor->carveout().state(), doc);  // read from the file
	const auto after = monitor->status();
	EXPECT_EQ(after.realm_key, before.realm_key);
	EXPECT_EQ(after.sign_pending, 1u);
	// The next commit writes the same document but for what it changed: here a boot failure.
	ASSERT_EQ(smc(EL3_FID_RMM_BOOT_COMPLETE, {static_cast<uint64_t>(-3)}, 2)[0], 0u);
	const nlohmann::json failed = monitor->carveout().state();
	EXPECT_EQ(failed["boot"]["failure"]["cpu"], 2u);
	EXPECT_EQ(failed["boot"]["failure"]["code"], -3);
	ASSERT_EQ(failed["boot"]["cpus"].size(), 3u);
	EXPECT_EQ(failed["boot"]["cpus"][2]["state"], "failed");
	EXPECT_EQ(failed["boot"]["cpus"][2]["result"], -3);
	nlohmann::json back = failed;
	back["boot"].erase("failure");
	back["boot"]["cpus"].erase(2);
	EXPECT_EQ(back, doc);
	open_with(o);
	EXPECT_EQ(monitor->carveout().state(), failed);
	ASSERT_TRUE(monitor->status().boot_failure.has_value());
	EXPECT_EQ(monitor->status().boot_failure->code, -3);
}
