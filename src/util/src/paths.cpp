#include "el3d/util/paths.hpp"

#include <unistd.h>

#include <cstdlib>

namespace el3d {

namespace {
std::string env(const char* name)
{
	const char* v = std::getenv(name);
	return (v != nullptr && v[0] == '/') ? std::string(v) : std::string();
}
}  // namespace

std::string default_state_dir()
{
	if (auto x = env("XDG_STATE_HOME"); !x.empty())
		return x + "/el3d";
	if (auto h = env("HOME"); !h.empty())
		return h + "/.local/state/el3d";
	return "/tmp/el3d-state-" + std::to_string(::getuid());
}

std::string default_runtime_dir()
{
	if (auto x = env("XDG_RUNTIME_DIR"); !x.empty())
		return x + "/el3d";
	return "/tmp/el3d-" + std::to_string(::getuid());
}

std::string default_carveout_path(const std::string& platform)
{
	return default_state_dir() + "/carveout-" + platform + ".img";
}

std::string env_socket_path()
{
	const char* s = std::getenv("EL3D_SOCKET");
	return (s != nullptr && s[0] != '\0') ? std::string(s) : std::string();
}

std::string default_socket_path()
{
	if (auto s = env_socket_path(); !s.empty())
		return s;
	return default_runtime_dir() + "/el3d.sock";
}

}  // namespace el3d
