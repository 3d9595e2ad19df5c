#pragma once
// What every el3d fuzz target shares: a reader that turns libFuzzer's bytes into choices, a scratch directory on
// tmpfs, and the one way a target reports a broken invariant (a message, then abort(), which libFuzzer records as a
// crash with the input that caused it).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace el3d::fuzz {

// Consumes the input from the front; once it is used up every read returns zero, so that any input decodes.
class Input {
public:
	Input(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}

	bool empty() const { return pos_ >= size_; }
	std::size_t left() const { return empty() ? 0 : size_ - pos_; }
	uint8_t u8() { return empty() ? 0 : data_[pos_++]; }
	uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
	uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
	uint64_t u64() { return static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32); }
	bool flag() { return (u8() & 1) != 0; }
	// One of `n` choices (n > 0).
	std::size_t pick(std::size_t n) { return u8() % n; }
	template <class T, std::size_t N>
	const T& pick_from(const T (&table)[N]) { return table[pick(N)]; }
	// Up to `max` bytes, length first.
	std::vector<uint8_t> bytes(std::size_t max);
	// The rest of the input.
	std::span<const uint8_t> rest();

private:
	const uint8_t* data_;
	std::size_t size_;
	std::size_t pos_ = 0;
};

// A directory of this process's own under $EL3D_FUZZ_SCRATCH, else /dev/shm (tmpfs: nothing reaches a disk), else
// $TMPDIR; removed with everything in it when the process exits normally, and by the next run if it crashed.
const std::string& scratch_dir();

// Silence el3d's logging (spdlog): a fuzz target makes millions of calls.
void quiet_logs();

// A broken invariant: prints "el3d fuzz: <what>" to stderr and aborts.
[[noreturn]] void fail(const std::string& what);
inline void check(bool ok, std::string_view what)
{
	if (!ok)
		fail(std::string(what));
}

// FNV-1a over a whole file's bytes (and its size); empty optional semantics are left to the caller: a missing file
// hashes as size 0.
struct FileDigest {
	uint64_t size = 0;
	uint64_t hash = 0;
	bool operator==(const FileDigest&) const = default;
};
FileDigest digest_file(const std::string& path);
void write_file(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace el3d::fuzz
