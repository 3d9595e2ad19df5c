#pragma once
#include "el3d/monitor/monitor.hpp"
#include "el3d/nsmem/nsmem.hpp"
#include "el3d/v1/monitor.pb.h"

namespace el3d {

// The monitor's status as the API's State message.
void to_proto(const MonitorStatus& s, v1::State& out);
// Where the NS memory file is and what it holds (State.ns_memory, Entered.ns_memory).
void to_proto(const NsMemoryInfo& ns, v1::NsMemoryMap& out);

}  // namespace el3d
