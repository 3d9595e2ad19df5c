// Test-only helper: writes a CCA platform token for a given challenge, and the platform public key,
// to files, so verifiers outside C++ (verify_platform_token.py) can check what el3d_attest produces.
//
//   el3d_attest_token_tool CHALLENGE_HEX TOKEN_OUT PUBKEY_PEM_OUT [PLATFORM_KEY_SCALAR_HEX]
//
// Without a scalar the platform key is generated afresh. The claims are default_claims() of that key.
// Exit status: 0 written, 1 refused (e.g. a challenge of the wrong size; nothing is written), 2 usage.
#include "el3d/attest/platform_token.hpp"
#include "el3d/util/numbers.hpp"

#include <cstdio>
#include <exception>
#include <fstream>
#include <optional>
#include <string>

namespace {

bool write_file(const std::string& path, const void* data, std::size_t len)
{
	std::ofstream f(path, std::ios::binary | std::ios::trunc);
	f.write(static_cast<const char*>(data), static_cast<std::streamsize>(len));
	f.close();
	return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv)
{
	if (argc != 4 && argc != 5) {
		std::fprintf(stderr, "usage: %s CHALLENGE_HEX TOKEN_OUT PUBKEY_PEM_OUT [PLATFORM_KEY_SCALAR_HEX]\n",
		             argv[0]);
		return 2;
	}
	const auto challenge = el3d::from_hex(argv[1]);
	if (!challenge) {
		std::fprintf(stderr, "bad challenge hex\n");
		return 2;
	}
	std::optional<std::vector<uint8_t>> scalar;
	if (argc == 5 && !(scalar = el3d::from_hex(argv[4]))) {
		std::fprintf(stderr, "bad scalar hex\n");
		return 2;
	}
	try {
		const el3d::attest::EcKey key =
		    scalar ? el3d::attest::EcKey::from_private_scalar(*scalar) : el3d::attest::EcKey::generate();
		const auto token = el3d::attest::make_platform_token(el3d::attest::default_claims(key), *challenge, key);
		const std::string pem = key.public_pem();
		if (!write_file(argv[2], token.data(), token.size()) || !write_file(argv[3], pem.data(), pem.size())) {
			std::fprintf(stderr, "cannot write the output files\n");
			return 1;
		}
	} catch (const std::exception& e) {
		std::fprintf(stderr, "%s\n", e.what());
		return 1;
	}
	return 0;
}
