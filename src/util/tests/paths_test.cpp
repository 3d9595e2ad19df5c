#include "el3d/util/paths.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>

using namespace el3d;

TEST(Paths, FollowXdgVariables)
{
	::setenv("XDG_STATE_HOME", "/xs", 1);
	::setenv("XDG_RUNTIME_DIR", "/xr", 1);
	::unsetenv("EL3D_SOCKET");
	EXPECT_EQ(default_carveout_path("fvp"), "/xs/el3d/carveout-fvp.img");
	EXPECT_EQ(default_socket_path(), "/xr/el3d/el3d.sock");
	::setenv("EL3D_SOCKET", "/a/b.sock", 1);
	EXPECT_EQ(default_socket_path(), "/a/b.sock");
}

TEST(Paths, FallBackWhenUnsetOrRelative)
{
	::unsetenv("EL3D_SOCKET");
	::unsetenv("XDG_STATE_HOME");
	::setenv("XDG_RUNTIME_DIR", "relative/dir", 1);  // the XDG spec says to ignore relative paths
	::setenv("HOME", "/home/dev", 1);
	EXPECT_EQ(default_state_dir(), "/home/dev/.local/state/el3d");
	EXPECT_EQ(default_runtime_dir().rfind("/tmp/el3d-", 0), 0u);
}

TEST(Paths, SocketFromTheEnvironmentOnlyWhenSetAndNotEmpty)
{
	::setenv("EL3D_SOCKET", "", 1);
	EXPECT_EQ(env_socket_path(), "");
	::setenv("XDG_RUNTIME_DIR", "/xr", 1);
	EXPECT_EQ(default_socket_path(), "/xr/el3d/el3d.sock");
	::setenv("EL3D_SOCKET", "/s/el3d.sock", 1);
	EXPECT_EQ(env_socket_path(), "/s/el3d.sock");
	::unsetenv("EL3D_SOCKET");
	::unsetenv("XDG_RUNTIME_DIR");
	::unsetenv("XDG_STATE_HOME");
	::unsetenv("HOME");
	EXPECT_EQ(env_socket_path(), "");
	EXPECT_EQ(default_runtime_dir(), "/tmp/el3d-" + std::to_string(::getuid()));
	EXPECT_EQ(default_state_dir(), "/tmp/el3d-state-" + std::to_string(::getuid()));
}
