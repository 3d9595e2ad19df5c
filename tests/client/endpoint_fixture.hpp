#pragma once
// A client connected to the real daemon (GetParam() false) or in process (true), for tests that expect
// the same behaviour from both endpoints.
#include "el3d/el3_client.h"
#include "process.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace el3d::test {

class EndpointTest : public ::testing::TestWithParam<bool> {
protected:
	void SetUp() override
	{
		if (inproc()) {
			endpoint = "inproc:" + dir.file("c.img");
		} else {
			daemon = std::make_unique<Daemon>(dir);
			ASSERT_TRUE(daemon->start()) << daemon->log();
			endpoint = "unix:" + daemon->socket;
		}
		el3_error err;
		ASSERT_EQ(el3_connect(endpoint.c_str(), &c, &err), EL3_OK) << err.message;
	}
	void TearDown() override { el3_disconnect(c); }
	bool inproc() const { return GetParam(); }

	TempDir dir;
	std::unique_ptr<Daemon> daemon;
	std::string endpoint;
	el3_client* c = nullptr;
};

}  // namespace el3d::test
