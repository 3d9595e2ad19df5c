#pragma once
// The mailbox page as both processes see it. Each 32-bit word is written by one side only; the
// other side reads it (std::atomic_ref): el3d never trusts what the client side holds beyond the
// request words it copies out once per call.
#include <cstddef>
#include <cstdint>

namespace el3d::fastpath::detail {

inline constexpr uint32_t kMagic = 0x50463345;  // "E3FP"
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kClosed = 1u << 31;   // in `req` / `resp`: that side ended the session
inline constexpr uint32_t kSeqMask = kClosed - 1;

struct Layout {
	// Set by el3d before the page is handed over; read-only afterwards.
	uint32_t magic, version, size, cpu;
	// Client -> el3d.
	alignas(64) uint32_t req;   // futex word: sequence number of the latest request | kClosed
	uint32_t client_sleeping;   // 1 while the client sleeps on `resp` (el3d must wake it)
	uint32_t client_cpu;        // the CPU the client last posted from
	uint32_t reserved0;
	uint64_t fid;
	uint64_t x[12];  // x1 .. x12
	// el3d -> client.
	alignas(64) uint32_t resp;  // futex word: sequence number of the latest answer | kClosed
	uint32_t server_sleeping;   // 1 while el3d sleeps on `req` (the client must wake it)
	uint32_t server_cpu;        // the CPU el3d last answered from
	uint32_t reserved1;
	uint64_t out[8];  // x0 .. x7
};

inline constexpr std::size_t kPageSize = 4096;
static_assert(sizeof(Layout) <= kPageSize);

}  // namespace el3d::fastpath::detail
