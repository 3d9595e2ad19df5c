#pragma once
// el3_connect() with the fast path chosen by the caller rather than by $EL3D_FASTPATH: for a program
// linking el3client's objects that wants both kinds of session side by side (el3d_bench). Not part of
// the C interface.
#include "el3d/el3_client.h"

namespace el3d::client {

int connect(const char* endpoint, bool fastpath, el3_client** out, el3_error* err);

}  // namespace el3d::client
