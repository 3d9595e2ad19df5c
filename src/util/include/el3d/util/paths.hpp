#pragma once
// Default locations shared by el3d and its clients, following the XDG base-directory rules.
//
// The default directories are el3d's own: the daemon creates them with make_private_dir()
// (el3d/util/fd.hpp), which refuses one that another user could control. That matters most for
// the /tmp fallbacks, whose names anyone can guess and pre-create.
#include <string>

namespace el3d {

// $XDG_STATE_HOME/el3d, else $HOME/.local/state/el3d, else /tmp/el3d-state-<uid>.
std::string default_state_dir();
// $XDG_RUNTIME_DIR/el3d, else /tmp/el3d-<uid>.
std::string default_runtime_dir();
// <state dir>/carveout-<platform>.img
std::string default_carveout_path(const std::string& platform);
// $EL3D_SOCKET if set and not empty, else the empty string.
std::string env_socket_path();
// $EL3D_SOCKET if set, else <runtime dir>/el3d.sock
std::string default_socket_path();

}  // namespace el3d
