#pragma once
// A private temporary directory for one test, removed with everything in it afterwards.
#include <string>

namespace el3d::test {

class TempDir {
public:
	TempDir();
	explicit TempDir(const std::string& base);  // under `base` instead of $TMPDIR (e.g. a tmpfs)
	~TempDir();
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;
	const std::string& path() const { return path_; }
	std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

// Whole-file helpers for refusal tests.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace el3d::test
