#include "reason_sink.hpp"

namespace el3d {

namespace {
thread_local std::string* capturing = nullptr;
constexpr std::size_t kMaxReason = 2048;  // a call that logs a lot gives its client the start
}  // namespace

ReasonSink::Capture::Capture(std::string& into) : previous_(capturing) { capturing = &into; }

ReasonSink::Capture::~Capture() { capturing = previous_; }

void ReasonSink::sink_it_(const spdlog::details::log_msg& msg)
{
	std::string* into = capturing;
	if (into == nullptr || into->size() >= kMaxReason)
		return;
	if (!into->empty())
		into->append("; ");
	into->append(msg.payload.data(), msg.payload.size());
}

}  // namespace el3d
