#include "doorbell.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>

namespace el3d::fastpath::detail {

namespace {

// Shared futexes (no FUTEX_PRIVATE_FLAG): the word is in a MAP_SHARED mapping of two processes.
long futex(uint32_t* word, int op, uint32_t val, const timespec* timeout)
{
	return ::syscall(SYS_futex, word, op, val, timeout, nullptr, 0);
}

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	asm volatile("yield" ::: "memory");
#endif
}

bool single_cpu()
{
	static const bool one = ::sysconf(_SC_NPROCESSORS_ONLN) <= 1;
	return one;
}

}  // namespace

uint32_t this_cpu()
{
	const int c = ::sched_getcpu();
	return c < 0 ? ~0u : static_cast<uint32_t>(c);
}

void ring(uint32_t* word, uint32_t value, const uint32_t* peer_sleeping)
{
	// Sequentially consistent on both sides (store here, then load the sleeping flag; the sleeper
	// stores its flag, then loads the word): one of the two sees the other, so no wake-up is lost.
	std::atomic_ref<uint32_t>(*word).store(value, std::memory_order_seq_cst);
	if (std::atomic_ref<const uint32_t>(*peer_sleeping).load(std::memory_order_seq_cst) != 0)
		futex(word, FUTEX_WAKE, INT_MAX, nullptr);
}

void wake_all(uint32_t* word) { futex(word, FUTEX_WAKE, INT_MAX, nullptr); }

std::optional<uint32_t> await_change(uint32_t* word, uint32_t seen, uint32_t* sleeping, const uint32_t* peer_cpu,
                                     const Tuning& t, const std::function<bool()>& stop)
{
	std::atomic_ref<uint32_t> w(*word);
	uint32_t v = w.load(std::memory_order_acquire);
	if (v != seen)
		return v;
	const bool spin = t.spins != 0 && !single_cpu() &&
	                  std::atomic_ref<const uint32_t>(*peer_cpu).load(std::memory_order_relaxed) != this_cpu();
	if (spin) {
		for (unsigned i = 0; i < t.spins; ++i) {
			cpu_relax();
			if ((v = w.load(std::memory_order_acquire)) != seen)
				return v;
		}
	}
	std::atomic_ref<uint32_t> asleep(*sleeping);
	const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.slice).count();
	const timespec slice{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
	for (;;) {
		asleep.store(1, std::memory_order_seq_cst);
		v = w.load(std::memory_order_seq_cst);
		if (v == seen)
			futex(word, FUTEX_WAIT, seen, &slice);  // EAGAIN if it changed meanwhile; ETIMEDOUT; EINTR
		asleep.store(0, std::memory_order_relaxed);
		if ((v = w.load(std::memory_order_acquire)) != seen)
			return v;
		if (stop())
			return std::nullopt;
	}
}

}  // namespace el3d::fastpath::detail
