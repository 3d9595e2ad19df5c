#pragma once
// Helpers shared by the carveout tests.
#include "el3d/carveout/carveout.hpp"
#include "../src/format.hpp"
#include "el3d/util/fd.hpp"
#include "tempdir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

namespace el3d::test {

inline CarveoutOpenRequest req(const std::string& path)
{
	CarveoutOpenRequest r;
	r.path = path;
	return r;
}

inline CarveoutRefusal refusal_of(const CarveoutOpenRequest& r)
{
	try {
		Carveout::open(r);
	} catch (const CarveoutError& e) {
		return e.refusal();
	}
	ADD_FAILURE() << "open unexpectedly succeeded";
	return CarveoutRefusal::Io;
}

inline uint64_t allocated_bytes(const std::string& path)
{
	struct stat st {};
	::stat(path.c_str(), &st);
	return static_cast<uint64_t>(st.st_blocks) * 512;
}


}  // namespace el3d::test
