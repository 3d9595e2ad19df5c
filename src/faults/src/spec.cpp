// Which results a rule may inject for each FID: the errors the RMM-EL3 specification (and, for FIRME, TF-A's FIRME
// services) lists for that command, per ABI profile. An injected result must be one a real EL3 could give, or the RMM
// under test would be exercised against a monitor that cannot exist; SMC_UNK is always allowed (a FID EL3 lacks).
#include "el3d/faults/faults.hpp"

#include "el3d/smc.h"

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstdlib>

namespace el3d::faults {

namespace {

struct Code {
	const char* name;
	int64_t value;
};

constexpr Code kRmmCodes[] = {
    {"E_RMM_UNK", EL3_E_RMM_UNK},     {"E_RMM_BAD_ADDR", EL3_E_RMM_BAD_ADDR}, {"E_RMM_BAD_PAS", EL3_E_RMM_BAD_PAS},
    {"E_RMM_NOMEM", EL3_E_RMM_NOMEM}, {"E_RMM_INVAL", EL3_E_RMM_INVAL},       {"E_RMM_AGAIN", EL3_E_RMM_AGAIN},
    {"E_RMM_FAULT", EL3_E_RMM_FAULT}, {"E_RMM_IN_PROGRESS", EL3_E_RMM_IN_PROGRESS},
};
constexpr Code kFirmeCodes[] = {
    {"FIRME_NOT_SUPPORTED", EL3_FIRME_NOT_SUPPORTED}, {"FIRME_INVALID_PARAMETERS", EL3_FIRME_INVALID_PARAMETERS},
    {"FIRME_ABORTED", EL3_FIRME_ABORTED},             {"FIRME_INCOMPLETE", EL3_FIRME_INCOMPLETE},
    {"FIRME_DENIED", EL3_FIRME_DENIED},               {"FIRME_BUSY", EL3_FIRME_BUSY},
    {"FIRME_OP_CONFLICT", EL3_FIRME_OP_CONFLICT},     {"FIRME_EXISTS", EL3_FIRME_EXISTS},
    {"FIRME_NO_ENTRY", EL3_FIRME_NO_ENTRY},           {"FIRME_NO_MEMORY", EL3_FIRME_NO_MEMORY},
    {"FIRME_BAD_DATA", EL3_FIRME_BAD_DATA},
};

enum Profiles { kSeed = 1, kTfa = 2, kBoth = 3 };

// A FID, its name, the profiles that serve it, and the errors listed for it (besides SMC_UNK).
struct FidSpec {
	uint32_t fid;
	const char* name;
	int profiles;
	std::vector<int64_t> errors;
};

const std::vector<FidSpec>& fid_table()
{
	static const std::vector<FidSpec> t = {
	    {EL3_FID_RMM_GTSI_DELEGATE, "RMM_GTSI_DELEGATE", kBoth, {EL3_E_RMM_BAD_ADDR, EL3_E_RMM_BAD_PAS}},
	    {EL3_FID_RMM_GTSI_UNDELEGATE, "RMM_GTSI_UNDELEGATE", kBoth, {EL3_E_RMM_BAD_ADDR, EL3_E_RMM_BAD_PAS}},
	    {EL3_FID_RMM_ATTEST_GET_REALM_KEY, "RMM_ATTEST_GET_REALM_KEY", kBoth,
	     {EL3_E_RMM_BAD_ADDR, EL3_E_RMM_INVAL, EL3_E_RMM_UNK}},
	    {EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, "RMM_ATTEST_GET_PLAT_TOKEN", kBoth,
	     {EL3_E_RMM_BAD_ADDR, EL3_E_RMM_INVAL, EL3_E_RMM_AGAIN, EL3_E_RMM_UNK}},
	    {EL3_FID_RMM_EL3_FEATURES, "RMM_EL3_FEATURES", kBoth, {EL3_E_RMM_INVAL}},
	    {EL3_FID_RMM_EL3_TOKEN_SIGN, "RMM_EL3_TOKEN_SIGN", kBoth,
	     {EL3_E_RMM_BAD_ADDR, EL3_E_RMM_INVAL, EL3_E_RMM_AGAIN, EL3_E_RMM_UNK}},
	    {EL3_FID_RMM_MECID_KEY_UPDATE, "RMM_MECID_KEY_UPDATE", kSeed, {EL3_E_RMM_INVAL, EL3_E_RMM_UNK}},
	    {EL3_FID_RMM_MEC_REFRESH, "RMM_MEC_REFRESH", kTfa, {EL3_E_RMM_INVAL, EL3_E_RMM_UNK}},
	    {EL3_FID_RMM_ALLOCATE_MEMORY, "RMM_ALLOCATE_MEMORY", kSeed, {EL3_E_RMM_INVAL, EL3_E_RMM_NOMEM, EL3_E_RMM_UNK}},
	    {EL3_FID_RMM_RESERVE_MEMORY, "RMM_RESERVE_MEMORY", kTfa, {EL3_E_RMM_INVAL, EL3_E_RMM_NOMEM}},
	    {EL3_FID_RMM_BOOT_COMPLETE, "RMM_BOOT_COMPLETE", kBoth, {}},
	    {EL3_FID_FIRME_BASE_VERSION, "FIRME_BASE_VERSION", kTfa, {}},
	    {EL3_FID_FIRME_BASE_FEATURES, "FIRME_BASE_FEATURES", kTfa, {}},
	    {EL3_FID_FIRME_GM_GPI_SET, "FIRME_GM_GPI_SET", kTfa, {EL3_FIRME_INVALID_PARAMETERS, EL3_FIRME_DENIED}},
	    {EL3_FID_FIRME_IDE_KEYSET_PROG, "FIRME_IDE_KEYSET_PROG", kTfa, {EL3_FIRME_INVALID_PARAMETERS}},
	    {EL3_FID_FIRME_IDE_KEYSET_GO, "FIRME_IDE_KEYSET_GO", kTfa, {EL3_FIRME_INVALID_PARAMETERS}},
	    {EL3_FID_FIRME_IDE_KEYSET_STOP, "FIRME_IDE_KEYSET_STOP", kTfa, {EL3_FIRME_INVALID_PARAMETERS}},
	    {EL3_FID_FIRME_MEC_REFRESH, "FIRME_MEC_REFRESH", kTfa, {EL3_FIRME_INVALID_PARAMETERS}},
	    {EL3_FID_SMCCC_VERSION, "SMCCC_VERSION", kTfa, {}},
	    {EL3_FID_SMCCC_ARCH_FEATURES, "SMCCC_ARCH_FEATURES", kTfa, {}},
	    {EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY, "SMCCC_ARCH_FEATURE_AVAILABILITY", kTfa, {}},
	};
	return t;
}

bool is_firme(uint32_t fid) { return fid >= EL3_FID_FIRME_FIRST && fid <= EL3_FID_FIRME_LAST; }

const FidSpec* find(uint32_t fid, std::string_view abi)
{
	const int profile = abi == "seed" ? kSeed : kTfa;
	for (const FidSpec& s : fid_table())
		if (s.fid == fid && (s.profiles & profile) != 0)
			return &s;
	return nullptr;
}

std::string upper(std::string_view s)
{
	std::string u(s);
	std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
	return u;
}

}  // namespace

std::optional<uint32_t> parse_fid(std::string_view s)
{
	const std::string u = upper(s);
	for (const FidSpec& f : fid_table())
		if (u == f.name)
			return f.fid;
	if (u == "RMM_RMI_REQ_COMPLETE")
		return EL3_FID_RMM_RMI_REQ_COMPLETE;
	if (s.empty() || s.size() > 20)
		return std::nullopt;
	const std::string t(s);
	char* end = nullptr;
	errno = 0;
	const unsigned long long v = std::strtoull(t.c_str(), &end, 0);
	if (errno != 0 || *end != '\0' || t[0] == '-' || v > UINT32_MAX)
		return std::nullopt;
	return static_cast<uint32_t>(v);
}

std::string fid_label(uint32_t fid)
{
	for (const FidSpec& f : fid_table())
		if (f.fid == fid)
			return fid == EL3_FID_RMM_MEC_REFRESH ? "RMM_MEC_REFRESH/RMM_MECID_KEY_UPDATE" : f.name;
	char b[16];
	std::snprintf(b, sizeof b, "0x%08X", fid);
	return b;
}

std::optional<uint64_t> parse_result(std::string_view s)
{
	const std::string u = upper(s);
	if (u == "SMC_UNK")
		return EL3_SMC_UNK;
	for (const Code& c : kRmmCodes)
		if (u == c.name)
			return static_cast<uint64_t>(c.value);
	for (const Code& c : kFirmeCodes)
		if (u == c.name)
			return static_cast<uint64_t>(c.value);
	if (s.empty() || s.size() > 20)
		return std::nullopt;
	const std::string t(s);
	char* end = nullptr;
	errno = 0;
	if (t[0] == '-') {
		const long long v = std::strtoll(t.c_str(), &end, 0);
		if (errno != 0 || *end != '\0')
			return std::nullopt;
		return static_cast<uint64_t>(v);
	}
	const unsigned long long v = std::strtoull(t.c_str(), &end, 0);
	if (errno != 0 || *end != '\0')
		return std::nullopt;
	return v;
}

std::string result_label(uint32_t fid, uint64_t x0)
{
	if (x0 == EL3_SMC_UNK)
		return "SMC_UNK";
	const auto v = static_cast<int64_t>(x0);
	if (is_firme(fid)) {
		for (const Code& c : kFirmeCodes)
			if (v == c.value)
				return c.name;
	} else {
		for (const Code& c : kRmmCodes)
			if (v == c.value)
				return c.name;
	}
	return std::to_string(v);
}

std::vector<std::string> allowed_results(uint32_t fid, std::string_view abi)
{
	std::vector<std::string> out;
	if (const FidSpec* s = find(fid, abi))
		for (int64_t e : s->errors)
			if (e != EL3_E_RMM_UNK)  // the same number as SMC_UNK, named once below
				out.push_back(result_label(fid, static_cast<uint64_t>(e)));
	out.push_back("SMC_UNK");
	return out;
}

}  // namespace el3d::faults
