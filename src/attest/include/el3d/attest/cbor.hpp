#pragma once
// A minimal CBOR (RFC 8949) encoder that emits only what the CCA platform token and the monitor's state
// document need: unsigned and negative integers, byte and text strings, arrays, maps, tags and booleans.
//
// Why our own rather than libcbor: a token must be byte-for-byte reproducible (the signature covers
// the exact bytes, and tests compare tokens), and RFC 8949 §4.2.1 "core deterministic encoding"
// wants every head in its shortest form with definite lengths only. libcbor 0.8 builds a
// reference-counted item tree whose integer width is whatever the caller picked (cbor_build_uint16
// stays 3 bytes even for 10), so we would have to choose widths by hand anyway, plus manage refcounts
// and malloc failures. Writing heads directly is ~100 lines, has no allocation besides one vector, and
// adds no run-time dependency to the daemon. libcbor (and Python's cbor2) are used only in the tests,
// as independent decoders of what this writes.
//
// Map key order is the caller's job: deterministic encoding sorts keys by their encoded bytes, which
// for non-negative integer keys (all the token uses) is plain numeric order. The writer does not
// count items either: array(n)/map(n) write a head, the caller then writes exactly n items (2n for a
// map).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace el3d::attest::cbor {

// CBOR major types (RFC 8949 §3.1).
enum class Major : uint8_t {
	Unsigned = 0,
	Negative = 1,
	Bytes = 2,
	Text = 3,
	Array = 4,
	Map = 5,
	Tag = 6,
};

class Writer {
public:
	Writer& uint(uint64_t v);
	// Any int64: a non-negative value as major 0, a negative one as major 1 (encoding -1 - v).
	Writer& integer(int64_t v);
	Writer& bytes(std::span<const uint8_t> b);
	// Throws std::invalid_argument unless `s` is well-formed UTF-8 (CBOR text strings must be).
	Writer& text(std::string_view s);
	Writer& array(uint64_t count);
	Writer& map(uint64_t pairs);
	Writer& tag(uint64_t number);
	// The simple values false and true (major 7, 20 and 21).
	Writer& boolean(bool v);
	// An item encoded elsewhere, copied verbatim.
	Writer& raw(std::span<const uint8_t> encoded);

	const std::vector<uint8_t>& data() const& { return out_; }
	std::vector<uint8_t> take() && { return std::move(out_); }
	// Empty again, keeping the buffer's capacity for the next item.
	void clear() { out_.clear(); }

private:
	// The shortest head for (major, argument): 1, 2, 3, 5 or 9 bytes.
	void head(Major major, uint64_t arg);

	std::vector<uint8_t> out_;
};

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace el3d::attest::cbor
