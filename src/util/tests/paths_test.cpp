#include "el3d/util/paths.hpp"

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
