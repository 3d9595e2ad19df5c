#pragma once
// Why a call failed, for the client that made it: what the core logs while it serves the call (at
// info level and above, e.g. "cpu0 RMM_ALLOCATE_MEMORY: E_RMM_NOMEM, region 1 exists with 8192 bytes;
// 16384 requested") is also collected for that call's thread, and the service hands it back in the
// response (SmcResponse.reason, AllocateMemoryResponse.reason) when the call did not succeed.
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

namespace el3d {

class ReasonSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
	// Collects the messages logged on this thread while it lives into `into` ("; " between them).
	class Capture {
	public:
		explicit Capture(std::string& into);
		~Capture();
		Capture(const Capture&) = delete;
		Capture& operator=(const Capture&) = delete;

	private:
		std::string* previous_;
	};

protected:
	void sink_it_(const spdlog::details::log_msg& msg) override;
	void flush_() override {}
};

}  // namespace el3d
