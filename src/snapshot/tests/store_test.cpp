// The snapshot store on real files: save, list, get, remove; hostile names refused; the copy keeps
// the carveout's holes (reflink or sparse copy) and opens as a carveout; what a killed save or
// removal leaves is cleaned by the next use; a kill at each step of a save or a removal leaves the
// old snapshot or the new one, never a half one.
#include "el3d/carveout/carveout.hpp"
#include "el3d/snapshot/store.hpp"
#include "sparse_file.hpp"
#include "tempdir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <functional>

using namespace el3d;
using namespace el3d::snapshot;
using el3d::test::TempDir;

namespace {

// A carveout file with a region written at its top, closed again (the store copies files).
std::string make_carveout(const TempDir& dir, uint8_t fill)
{
	CarveoutOpenRequest r;
	r.path = dir.file("c.img");
	r.durability = Durability::Process;
	auto c = Carveout::open(r);
	const uint64_t pa = c->geometry().rmm_limit - 0x2000;
	EXPECT_FALSE(c->zero(pa, 0x2000));
	std::memset(c->ptr(pa), fill, 0x2000);
	EXPECT_TRUE(c->append(AllocRecord{pa, 0x2000, 1, 0, 1, 0, 0, 12}));
	return r.path;
}

const char* g_crash_at = nullptr;
void crash_here(const char* step)
{
	if (g_crash_at != nullptr && std::strcmp(step, g_crash_at) == 0)
		::_exit(0);
}

int run_child(const std::function<void()>& fn)
{
	const pid_t pid = ::fork();
	if (pid == 0) {
		fn();
		::_exit(3);  // the crash step was never reached
	}
	int status = 0;
	::waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST(SnapshotName, HostileNamesAreRefused)
{
	for (const char* bad : {"", ".", "..", "../x", "a/b", "/etc", ".hidden", "-opt", "a b", "x.tmp-abcdef", "a\nb",
	                        "\xc3\xa9t\xc3\xa9"})
		EXPECT_NE(check_name(bad), "") << bad;
	EXPECT_NE(check_name(std::string(kMaxNameLength + 1, 'a')), "");
	for (const char* good : {"a", "boot-1", "after_boot.v2", "A.B-C_D"})
		EXPECT_EQ(check_name(good), "") << good;
	EXPECT_EQ(check_name(std::string(kMaxNameLength, 'a')), "");
	TempDir dir;
	Store s(dir.file("snaps"));
	EXPECT_THROW(s.path_of("../escape"), SnapshotError);
	try {
		s.save("../../escape", "/dev/null", {}, false);
		FAIL();
	} catch (const SnapshotError& e) {
		EXPECT_EQ(e.refusal(), Refusal::BadName);
	}
	struct stat st {};
	EXPECT_NE(::stat(dir.file("snaps").c_str(), &st), 0) << "a refused name created the directory";
}

TEST(SnapshotStore, SaveListGetRemove)
{
	TempDir dir;
	const std::string src = make_carveout(dir, 0x5a);
	Store s(Store::default_dir(src));
	EXPECT_TRUE(s.list().empty());
	Info info;
	info.note = "after boot";
	info.epoch = 7;
	const Info saved = s.save("one", src, info, false);
	EXPECT_EQ(saved.name, "one");
	EXPECT_EQ(saved.note, "after boot");
	EXPECT_NE(saved.created_unix_ns, 0u);
	EXPECT_TRUE(saved.copy_method == "reflink" || saved.copy_method == "sparse copy") << saved.copy_method;
	EXPECT_EQ(s.path_of("one"), src + ".snapshots/one/carveout.img");
	// Byte for byte the source, holes included.
	EXPECT_EQ(el3d::test::sparse_digest(s.path_of("one")), el3d::test::sparse_digest(src));
	EXPECT_LT(el3d::test::disk_usage(s.path_of("one")), 64u << 20) << "the copy is not sparse";
	// Existing names are refused unless forced.
	try {
		s.save("one", src, {}, false);
		FAIL();
	} catch (const SnapshotError& e) {
		EXPECT_EQ(e.refusal(), Refusal::Exists);
	}
	s.save("two", src, {}, false);
	const auto all = s.list();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_EQ(all[0].name, "one");
	EXPECT_EQ(all[0].epoch, 7u);
	EXPECT_EQ(all[1].name, "two");
	EXPECT_EQ(s.get("one").note, "after boot");
	// The copy opens as a carveout with the source's region and bytes.
	{
		const std::string copy = dir.file("copy.img");
		ASSERT_EQ(::link(s.path_of("one").c_str(), copy.c_str()), 0);
		CarveoutOpenRequest r;
		r.path = copy;
		auto c = Carveout::open(r);
		ASSERT_EQ(c->log().size(), 1u);
		EXPECT_EQ(c->ptr(c->log()[0].addr)[0x1fff], 0x5a);
	}
	// Replaced when forced, in one step: the new note.
	Info again;
	again.note = "replaced";
	s.save("one", src, again, true);
	EXPECT_EQ(s.get("one").note, "replaced");
	EXPECT_EQ(s.list().size(), 2u);
	s.remove("two");
	EXPECT_EQ(s.list().size(), 1u);
	try {
		s.remove("two");
		FAIL();
	} catch (const SnapshotError& e) {
		EXPECT_EQ(e.refusal(), Refusal::NotFound);
	}
	try {
		s.get("nope");
		FAIL();
	} catch (const SnapshotError& e) {
		EXPECT_EQ(e.refusal(), Refusal::NotFound);
	}
}

TEST(SnapshotStore, LeftoversAreCleanedOnNextUse)
{
	TempDir dir;
	const std::string src = make_carveout(dir, 1);
	Store s(dir.file("snaps"));
	s.save("keep", src, {}, false);
	ASSERT_EQ(::mkdir(dir.file("snaps/x.tmp-abc123").c_str(), 0700), 0);
	test::write_file(dir.file("snaps/x.tmp-abc123/carveout.img"), "half");
	ASSERT_EQ(::mkdir(dir.file("snaps/notours").c_str(), 0700), 0);  // no info.json: not listed, not removed
	EXPECT_EQ(s.clean_leftovers(), 1u);
	struct stat st {};
	EXPECT_NE(::stat(dir.file("snaps/x.tmp-abc123").c_str(), &st), 0);
	EXPECT_EQ(::stat(dir.file("snaps/notours").c_str(), &st), 0);
	ASSERT_EQ(s.list().size(), 1u);
}

// A save or removal killed at each step: the next use sees no snapshot or the complete one (for a
// forced save: the old one or the new one), and no leftover.
class StoreCrash : public ::testing::TestWithParam<const char*> {};

TEST_P(StoreCrash, KillAtEachStepLeavesOldOrNew)
{
	TempDir dir;
	const std::string src = make_carveout(dir, 0x11);
	const std::string old_digest = el3d::test::sparse_digest(src);
	Store s(dir.file("snaps"));
	const std::string step = GetParam();
	const bool removal = step.rfind("remove:", 0) == 0;
	const bool forced = step.find("+force") != std::string::npos;
	const std::string at = step.substr(0, step.find('+'));
	if (removal || forced) {
		Info i;
		i.note = "old";
		s.save("snap", src, i, false);
	}
	// The source changes, so that old and new copies differ.
	{
		CarveoutOpenRequest r;
		r.path = src;
		r.durability = Durability::Process;
		auto c = Carveout::open(r);
		std::memset(c->ptr(c->log()[0].addr), 0x22, 0x2000);
	}
	const std::string new_digest = el3d::test::sparse_digest(src);
	ASSERT_NE(old_digest, new_digest);
	ASSERT_EQ(run_child([&] {
		          s.set_crash_hook_for_testing(crash_here);
		          g_crash_at = at.c_str();
		          if (removal) {
			          s.remove("snap");
		          } else {
			          Info i;
			          i.note = "new";
			          s.save("snap", src, i, forced);
		          }
	          }),
	          0)
	    << "the child did not reach " << at;
	Store after(dir.file("snaps"));
	const auto all = after.list();  // cleans leftovers
	ASSERT_LE(all.size(), 1u);
	if (all.empty()) {
		EXPECT_TRUE(removal || (!forced && at != "save:renamed")) << "the snapshot vanished at " << step;
	} else {
		const std::string digest = el3d::test::sparse_digest(after.path_of("snap"));
		if (all[0].note == "new") {
			EXPECT_EQ(digest, new_digest);
		} else {
			EXPECT_EQ(all[0].note, "old");
			EXPECT_EQ(digest, old_digest);
			EXPECT_TRUE(forced || removal);
		}
		if (at == "save:renamed") {
			EXPECT_EQ(all[0].note, "new");
		}
		if (at == "remove:renamed") {
			ADD_FAILURE() << "a removal past its rename left the snapshot";
		}
	}
	EXPECT_EQ(after.clean_leftovers(), 0u) << "list() left a leftover behind";
}

INSTANTIATE_TEST_SUITE_P(Steps, StoreCrash,
                         ::testing::Values("save:tmpdir", "save:copied", "save:info", "save:renamed", "save:tmpdir+force",
                                           "save:copied+force", "save:info+force", "save:renamed+force",
                                           "remove:renamed"),
                         [](const auto& p) {
	                         std::string n = p.param;
	                         for (char& ch : n)
		                         if (!std::isalnum(static_cast<unsigned char>(ch)))
			                         ch = '_';
	                         return n;
                         });
