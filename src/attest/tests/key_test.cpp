#include "el3d/attest/key.hpp"

#include "el3d/util/numbers.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace el3d::attest;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes unhex(std::string_view s)
{
	auto b = el3d::from_hex(s);
	if (!b)
		throw std::logic_error("bad hex in test");
	return *b;
}

template <class C>
std::string hexs(const C& c)
{
	return el3d::to_hex(c.data(), c.size());
}

std::span<const uint8_t> as_bytes(std::string_view s)
{
	return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// secp384r1 domain parameters (SEC 2 §2.5.1 / FIPS 186-4 D.1.2.4).
constexpr std::string_view kGx =
    "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7";
constexpr std::string_view kGy =
    "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";
constexpr std::string_view kMinusGy =  // p - Gy: the y of -G = (n-1)*G
    "c9e821b569d9d390a26167406d6d23d6070be242d765eb831625ceec4a0f473ef59f4e30e2817e6285bce2846f15f1a0";
constexpr std::string_view kOrder =
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

Bytes scalar_of(uint8_t last)
{
	Bytes d(48, 0);
	d[47] = last;
	return d;
}

}  // namespace

TEST(AttestHash, KnownAnswers)
{
	// FIPS 180-2 "abc" vectors, and the empty message.
	EXPECT_EQ(hexs(sha256(as_bytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	EXPECT_EQ(hexs(sha384(as_bytes("abc"))), "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
	                                         "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	EXPECT_EQ(hexs(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_EQ(hexs(sha384({})), "38b060a751ac96384cd9327eb1b1e36a21fdb71114be0743"
	                            "4c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b");
}

TEST(AttestKey, GeneratedKeysAreWellFormedAndDistinct)
{
	const EcKey a = EcKey::generate();
	const EcKey b = EcKey::generate();
	const auto pa = a.public_uncompressed();
	EXPECT_EQ(pa.size(), 97u);
	EXPECT_EQ(pa[0], 0x04);
	EXPECT_NE(a.private_scalar(), b.private_scalar());
	EXPECT_NE(pa, b.public_uncompressed());
	EXPECT_NE(a.private_scalar(), (std::array<uint8_t, 48>{}));
}

TEST(AttestKey, RoundTripThroughTheScalar)
{
	const EcKey k = EcKey::generate();
	const auto d = k.private_scalar();
	const EcKey k2 = EcKey::from_private_scalar(d);
	EXPECT_EQ(k2.private_scalar(), d);
	EXPECT_EQ(k2.public_uncompressed(), k.public_uncompressed());
	EXPECT_EQ(k2.public_pem(), k.public_pem());
	// Either can verify the other's signature: they are the same key.
	const auto h = sha384(as_bytes("round trip"));
	EXPECT_TRUE(k.verify_digest(h, k2.sign_digest(h)));
	EXPECT_TRUE(k2.verify_digest(h, k.sign_digest(h)));
}

TEST(AttestKey, PublicPointOfKnownScalars)
{
	// d = 1 gives the generator; d = n - 1 gives its negation. Both ends of the valid range.
	const EcKey one = EcKey::from_private_scalar(scalar_of(1));
	EXPECT_EQ(hexs(one.public_uncompressed()), "04" + std::string(kGx) + std::string(kGy));
	EXPECT_EQ(hexs(one.private_scalar()), hexs(scalar_of(1)));  // left-padded to 48 bytes

	Bytes n_minus_1 = unhex(kOrder);
	n_minus_1[47] -= 1;
	const EcKey last = EcKey::from_private_scalar(n_minus_1);
	EXPECT_EQ(hexs(last.public_uncompressed()), "04" + std::string(kGx) + std::string(kMinusGy));
}

TEST(AttestKey, RejectsBadScalars)
{
	EXPECT_THROW(EcKey::from_private_scalar(Bytes(48, 0)), std::invalid_argument);     // 0
	EXPECT_THROW(EcKey::from_private_scalar(unhex(kOrder)), std::invalid_argument);    // n
	EXPECT_THROW(EcKey::from_private_scalar(Bytes(48, 0xff)), std::invalid_argument);  // > n
	EXPECT_THROW(EcKey::from_private_scalar(Bytes(47, 1)), std::invalid_argument);
	EXPECT_THROW(EcKey::from_private_scalar(Bytes(49, 1)), std::invalid_argument);
	EXPECT_THROW(EcKey::from_private_scalar({}), std::invalid_argument);
}

TEST(AttestKey, SignAndVerify)
{
	const EcKey k = EcKey::generate();
	const auto h = sha384(as_bytes("a realm token's claims"));
	const auto sig = k.sign_digest(h);
	ASSERT_EQ(sig.size(), 96u);
	EXPECT_TRUE(k.verify_digest(h, sig));
	const auto sig2 = k.sign_digest(h);
	EXPECT_NE(sig, sig2);  // randomised nonce
	EXPECT_TRUE(k.verify_digest(h, sig2));

	auto h_bad = h;
	h_bad[0] ^= 1;
	EXPECT_FALSE(k.verify_digest(h_bad, sig));
	for (std::size_t i : {0u, 47u, 48u, 95u}) {
		auto s_bad = sig;
		s_bad[i] ^= 0x80;
		EXPECT_FALSE(k.verify_digest(h, s_bad)) << "flipped signature byte " << i;
	}
	EXPECT_FALSE(EcKey::generate().verify_digest(h, sig));  // another key
	EXPECT_FALSE(k.verify_digest(h, std::span(sig).first(95)));
	EXPECT_FALSE(k.verify_digest({}, sig));

	// Out-of-range r and s: zero (what the FVP's token-sign stub returns) and n.
	EXPECT_FALSE(k.verify_digest(h, Bytes(96, 0)));
	Bytes r_is_n = unhex(kOrder);
	r_is_n.insert(r_is_n.end(), sig.begin() + 48, sig.end());
	EXPECT_FALSE(k.verify_digest(h, r_is_n));

	// Other digest sizes sign too (ECDSA uses the leftmost 384 bits).
	const auto h256 = sha256(as_bytes("x"));
	EXPECT_TRUE(k.verify_digest(h256, k.sign_digest(h256)));
	const Bytes h512(64, 0x5a);
	EXPECT_TRUE(k.verify_digest(h512, k.sign_digest(h512)));
	EXPECT_THROW(k.sign_digest({}), std::invalid_argument);
}

TEST(AttestKey, PemIsASubjectPublicKeyInfo)
{
	const std::string pem = EcKey::generate().public_pem();
	EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
	EXPECT_NE(pem.find("-----END PUBLIC KEY-----"), std::string::npos);
	EXPECT_EQ(pem.find("PRIVATE"), std::string::npos);
}

// Loading a scalar again gives the key loaded before (from_private_scalar() keeps the last 32), and never
// another key's: more distinct scalars than it keeps, each loaded twice, the second time after the others.
TEST(AttestKey, LoadingAScalarAgainGivesTheSameKey)
{
	std::vector<Bytes> scalars;
	std::vector<std::array<uint8_t, kP384PublicSize>> pubs;
	for (int i = 0; i < 40; ++i) {
		const auto s = EcKey::generate().private_scalar();
		scalars.emplace_back(s.begin(), s.end());
		pubs.push_back(EcKey::from_private_scalar(scalars.back()).public_uncompressed());
	}
	for (int round = 0; round < 2; ++round)
		for (std::size_t i = 0; i < scalars.size(); ++i) {
			const EcKey k = EcKey::from_private_scalar(scalars[i]);
			EXPECT_EQ(k.public_uncompressed(), pubs[i]) << i;
			const auto back = k.private_scalar();
			EXPECT_EQ(Bytes(back.begin(), back.end()), scalars[i]) << i;
			const auto d = sha384(scalars[i]);
			EXPECT_TRUE(EcKey::from_private_scalar(scalars[i]).verify_digest(d, k.sign_digest(d))) << i;
		}
}

TEST(AttestKey, CopiesShareTheKey)
{
	EcKey a = EcKey::generate();
	const EcKey b = a;
	EXPECT_EQ(a.private_scalar(), b.private_scalar());
	EcKey c = EcKey::generate();
	c = a;
	EXPECT_EQ(c.public_uncompressed(), a.public_uncompressed());
	const auto& self = c;
	c = self;  // self-assignment keeps the key alive
	EXPECT_EQ(c.public_uncompressed(), a.public_uncompressed());
	EcKey moved = std::move(a);  // a copy: `a` stays usable
	EXPECT_EQ(moved.public_uncompressed(), a.public_uncompressed());
	{
		EcKey tmp = EcKey::generate();
		c = tmp;
	}
	EXPECT_TRUE(c.verify_digest(sha384({}), c.sign_digest(sha384({}))));  // outlives `tmp`
}

TEST(AttestKey, ConcurrentSigningOnOneKey)
{
	const EcKey k = EcKey::generate();
	std::atomic<int> good{0};
	std::vector<std::thread> threads;
	for (int t = 0; t < 4; ++t)
		threads.emplace_back([&, t] {
			for (int i = 0; i < 25; ++i) {
				auto h = sha384(as_bytes("thread " + std::to_string(t) + " msg " + std::to_string(i)));
				if (k.verify_digest(h, k.sign_digest(h)))
					++good;
			}
		});
	for (auto& th : threads)
		th.join();
	EXPECT_EQ(good.load(), 100);
}

TEST(AttestKey, DerivedKeysDependOnSeedAndLabelOnly)
{
	const EcKey a = EcKey::derive(1, "realm");
	EXPECT_EQ(EcKey::derive(1, "realm").private_scalar(), a.private_scalar());
	EXPECT_NE(EcKey::derive(2, "realm").private_scalar(), a.private_scalar());
	EXPECT_NE(EcKey::derive(1, "platform").private_scalar(), a.private_scalar());
	const auto h = sha384(as_bytes("derived"));
	EXPECT_TRUE(a.verify_digest(h, a.sign_digest(h)));
}

TEST(AttestKey, DeterministicNoncesGiveOneValidSignaturePerDigest)
{
	const std::vector<uint8_t> nonce_key = {1, 2, 3, 4};
	const EcKey plain = EcKey::derive(7, "realm");
	const EcKey det = plain.with_deterministic_nonces(nonce_key);
	EXPECT_FALSE(plain.deterministic());
	EXPECT_TRUE(det.deterministic());
	for (int i = 0; i < 20; ++i) {
		const auto h = sha384(as_bytes("msg " + std::to_string(i)));
		const auto s1 = det.sign_digest(h);
		EXPECT_EQ(det.sign_digest(h), s1);  // same digest, same signature
		EXPECT_TRUE(plain.verify_digest(h, s1));  // an ordinary ECDSA signature
		auto bad = s1;
		bad[95] ^= 1;
		EXPECT_FALSE(plain.verify_digest(h, bad));
		EXPECT_NE(det.sign_digest(sha384(as_bytes("other " + std::to_string(i)))), s1);
	}
	// Another nonce key: another (valid) signature of the same digest; randomised copies stay random.
	const auto h = sha384(as_bytes("x"));
	const std::vector<uint8_t> other_key = {9};
	EXPECT_NE(plain.with_deterministic_nonces(other_key).sign_digest(h), det.sign_digest(h));
	EXPECT_NE(plain.sign_digest(h), plain.sign_digest(h));
	// A short digest (32 bytes) is signed as ECDSA takes it.
	const auto h32 = sha256(as_bytes("short"));
	EXPECT_TRUE(plain.verify_digest(h32, det.sign_digest(h32)));
}
