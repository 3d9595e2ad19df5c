#pragma once
// `n` calls on every CPU of a series at once, one thread per CPU (the caller's own thread for one CPU),
// each call's duration appended to that CPU's list when `record`. The first exception of any CPU is
// rethrown once all have stopped. Shared by (e) and (f), whose callers differ.
#include "process.hpp"  // Clock

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

namespace el3d::bench {

template <class Caller>
void run_block(std::vector<std::unique_ptr<Caller>>& cpus, std::vector<std::vector<int64_t>>& ns, uint64_t n,
               bool record)
{
	std::vector<std::exception_ptr> errors(cpus.size());
	auto body = [&](std::size_t k) {
		try {
			for (uint64_t i = 0; i < n; ++i) {
				const auto t0 = Clock::now();
				cpus[k]->call();
				const auto t1 = Clock::now();
				if (record)
					ns[k].push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
			}
		} catch (...) {
			errors[k] = std::current_exception();
		}
	};
	if (cpus.size() == 1) {
		body(0);
	} else {
		std::vector<std::thread> threads;
		for (std::size_t k = 0; k < cpus.size(); ++k)
			threads.emplace_back(body, k);
		for (auto& t : threads)
			t.join();
	}
	for (auto& e : errors)
		if (e)
			std::rethrow_exception(e);
}

}  // namespace el3d::bench
