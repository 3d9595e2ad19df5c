#include "el3d/util/fd.hpp"

#include "tempdir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

using namespace el3d;
using el3d::test::TempDir;

namespace {
unsigned mode_of(const std::string& p)
{
	struct stat st {};
	EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
	return st.st_mode & 07777;
}

// The message of the UnsafePath that make_private_dir(dir) throws, or "" if it accepts dir.
std::string refusal(const std::string& dir)
{
	try {
		make_private_dir(dir);
	} catch (const UnsafePath& e) {
		return e.what();
	}
	return "";
}
}  // namespace

TEST(PrivateDir, CreatesMissingDirectoriesPrivate)
{
	TempDir d;
	const std::string dir = d.file("a/b/el3d");
	const mode_t old = ::umask(0);  // 0700 whatever the caller's umask lets through
	make_private_dir(dir);
	::umask(old);
	EXPECT_EQ(mode_of(dir), 0700u);
	EXPECT_EQ(mode_of(d.file("a")), 0700u);
	// An existing private directory of ours is accepted again.
	EXPECT_EQ(refusal(dir), "");
}

TEST(PrivateDir, RefusesADirectoryOthersMayAccess)
{
	TempDir d;
	const std::string dir = d.file("el3d");
	ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
	for (unsigned mode : {0777u, 0770u, 0701u, 0710u, 01777u}) {
		ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
		const std::string why = refusal(dir);
		EXPECT_NE(why.find("group or others may access it"), std::string::npos) << std::oct << mode << ": " << why;
		EXPECT_NE(why.find("chmod 700 " + dir), std::string::npos) << why;
		EXPECT_EQ(mode_of(dir), mode) << "a refused directory must be left as it is";
	}
}

TEST(PrivateDir, RefusesASymlinkEvenToAPrivateDirectory)
{
	TempDir d;
	ASSERT_EQ(::mkdir(d.file("real").c_str(), 0700), 0);
	ASSERT_EQ(::symlink(d.file("real").c_str(), d.file("el3d").c_str()), 0);
	EXPECT_NE(refusal(d.file("el3d")).find("is a symbolic link"), std::string::npos) << refusal(d.file("el3d"));
	// A dangling one too, and its target is not created.
	ASSERT_EQ(::symlink(d.file("nowhere").c_str(), d.file("dangling").c_str()), 0);
	EXPECT_NE(refusal(d.file("dangling")).find("is a symbolic link"), std::string::npos);
	struct stat st {};
	EXPECT_NE(::lstat(d.file("nowhere").c_str(), &st), 0) << "the symlink's target must not be created";
}

TEST(PrivateDir, RefusesANonDirectory)
{
	TempDir d;
	el3d::test::write_file(d.file("el3d"), "x");
	EXPECT_NE(refusal(d.file("el3d")).find("is not a directory"), std::string::npos) << refusal(d.file("el3d"));
	EXPECT_EQ(el3d::test::read_file(d.file("el3d")), "x");
}

TEST(PrivateDir, RefusesADirectoryOfAnotherUser)
{
	TempDir d;
	std::string dir;
	uid_t owner = 0;
	if (::getuid() == 0) {
		// As root, hand a private directory to another user.
		dir = d.file("el3d");
		owner = 12345;
		ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
		ASSERT_EQ(::chown(dir.c_str(), owner, owner), 0);
	} else {
		dir = "/usr";  // root's, whatever its mode
	}
	const std::string why = refusal(dir);
	EXPECT_NE(why.find("owned by uid " + std::to_string(owner) + ", not by you"), std::string::npos) << why;
}
