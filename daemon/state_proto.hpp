#pragma once
#include "el3d/monitor/monitor.hpp"
#include "el3d/v1/monitor.pb.h"

namespace el3d {

// The monitor's status as the API's State message.
void to_proto(const MonitorStatus& s, v1::State& out);

}  // namespace el3d
