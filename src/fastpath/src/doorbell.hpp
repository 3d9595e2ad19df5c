#pragma once
// Doorbells on a word of shared memory: ring() publishes a new value and wakes the other process if
// it sleeps; await_change() waits for one, spinning first, then sleeping on the futex in slices.
#include "el3d/fastpath/mailbox.hpp"

#include <cstdint>
#include <functional>
#include <optional>

namespace el3d::fastpath::detail {

// Stores `value` into `word`, then wakes whoever sleeps on it if `*peer_sleeping` says one does.
void ring(uint32_t* word, uint32_t value, const uint32_t* peer_sleeping);
// Wakes every thread sleeping on `word` (of either process) without changing it.
void wake_all(uint32_t* word);

// Waits until `*word != seen` and returns the new value. Spins `t.spins` pause loops first unless
// the peer last ran on this CPU (`*peer_cpu`: it cannot answer while we spin), then sets
// `*sleeping` and sleeps on the futex for at most `t.slice` at a time. `stop` is asked after every
// slice and every wake-up that brought no change; when it says true, returns nullopt.
std::optional<uint32_t> await_change(uint32_t* word, uint32_t seen, uint32_t* sleeping, const uint32_t* peer_cpu,
                                     const Tuning& t, const std::function<bool()>& stop);

// The CPU this thread runs on now (or ~0u).
uint32_t this_cpu();

}  // namespace el3d::fastpath::detail
