#pragma once
// How el3ctl shows the emulated machine: a map of the carveout for terminals, JSON for scripts.
#include "el3d/v1/monitor.pb.h"

#include <nlohmann/json.hpp>

#include <string>

namespace el3d::cli {

nlohmann::json state_json(const v1::State& s);
// `width` is the number of characters of the carveout bar.
std::string state_text(const v1::State& s, unsigned width = 64);
// "x0=0x0000000000000000 x1=... x7=..." from any message with fields x0..x7
std::string registers_line(const uint64_t (&x)[8]);
template <typename Msg>
std::string registers_line(const Msg& r)
{
	const uint64_t x[8] = {r.x0(), r.x1(), r.x2(), r.x3(), r.x4(), r.x5(), r.x6(), r.x7()};
	return registers_line(x);
}
// hexdump -C style
std::string hexdump(uint64_t address, const std::string& data);

}  // namespace el3d::cli
