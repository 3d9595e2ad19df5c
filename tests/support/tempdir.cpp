#include "tempdir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace el3d::test {

TempDir::TempDir()
    // Keep socket paths short: sun_path holds 108 bytes.
    : TempDir(std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp")
{
}

TempDir::TempDir(const std::string& base)
{
	std::string tmpl = base + "/el3d-t-XXXXXX";
	if (::mkdtemp(tmpl.data()) == nullptr)
		throw std::runtime_error("mkdtemp failed");
	path_ = tmpl;
}

TempDir::~TempDir()
{
	std::error_code ec;
	std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path)
{
	std::ifstream in(path, std::ios::binary);
	std::ostringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

void write_file(const std::string& path, const std::string& bytes)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << bytes;
}

}  // namespace el3d::test
