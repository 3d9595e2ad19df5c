#pragma once
// Registers between the API's messages and the core's arrays.
#include "el3d/monitor/monitor.hpp"
#include "el3d/v1/monitor.pb.h"

namespace el3d {

// x0..x7 into any message with fields x0..x7 (SmcResponse, BootResponse).
template <typename Msg>
void set_regs(Msg* m, const SmcResult& r)
{
	m->set_x0(r[0]);
	m->set_x1(r[1]);
	m->set_x2(r[2]);
	m->set_x3(r[3]);
	m->set_x4(r[4]);
	m->set_x5(r[5]);
	m->set_x6(r[6]);
	m->set_x7(r[7]);
}

inline SmcArgs args_of(const v1::SmcRequest& r)
{
	return {r.x1(), r.x2(), r.x3(), r.x4(), r.x5(), r.x6(), r.x7(), r.x8(), r.x9(), r.x10(), r.x11(), r.x12()};
}

}  // namespace el3d
