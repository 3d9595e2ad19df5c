// The daemon's life cycle: start, refusals, signals, socket ownership.
#include "el3d/util/fd.hpp"
#include "harness.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

using namespace el3d::test;
using namespace std::chrono_literals;
namespace v1 = el3d::v1;

namespace {
bool exists(const std::string& p)
{
	struct stat st {};
	return ::lstat(p.c_str(), &st) == 0;
}

unsigned mode_of(const std::string& p)
{
	struct stat st {};
	EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
	return st.st_mode & 07777;
}

// A daemon that uses its default runtime directory, $XDG_RUNTIME_DIR/el3d with XDG_RUNTIME_DIR
// pointing into `d` (the same checks guard the /tmp/el3d-<uid> fallback, whose name is the one
// another user can guess).
void use_default_socket(Daemon& el3d, const TempDir& d)
{
	el3d.env = {"XDG_RUNTIME_DIR=" + d.file("run"), "EL3D_SOCKET="};
	el3d.default_socket = true;
	el3d.socket = d.file("run/el3d/el3d.sock");
}
}  // namespace

TEST(Daemon, ServesWithPrivateSocketAndStopsCleanlyOnSigterm)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	struct stat st {};
	ASSERT_EQ(::stat(el3d.socket.c_str(), &st), 0);
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	auto state = get_state(*connect(el3d.socket));
	EXPECT_EQ(state.platform(), "fvp");
	EXPECT_EQ(state.rmm_base(), 0xFDC00000u);

	const auto t0 = std::chrono::steady_clock::now();
	el3d.signal(SIGTERM);
	EXPECT_EQ(el3d.wait(5s), 0) << el3d.log();
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
	EXPECT_FALSE(exists(el3d.socket));
	EXPECT_FALSE(exists(el3d.socket + ".lock"));
	EXPECT_NE(el3d.log().find("stopped"), std::string::npos);
}

TEST(Daemon, SigintAlsoStopsCleanly)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	el3d.signal(SIGINT);
	EXPECT_EQ(el3d.wait(5s), 0);
	EXPECT_FALSE(exists(el3d.socket));
}

TEST(Daemon, SecondDaemonOnTheSameFileIsRefused)
{
	TempDir d;
	Daemon first(d);
	ASSERT_TRUE(first.start()) << first.log();
	Daemon second(d);
	second.socket = d.file("other.sock");
	EXPECT_EQ(second.run_to_exit(), 2);
	EXPECT_NE(second.log().find("in use by another process (pid " + std::to_string(first.pid()) + ")"),
	          std::string::npos)
	    << second.log();
	// The first one is unaffected.
	EXPECT_EQ(get_state(*connect(first.socket)).daemon_pid(), static_cast<uint32_t>(first.pid()));
}

TEST(Daemon, SecondDaemonOnTheSameSocketIsRefused)
{
	TempDir d;
	Daemon first(d);
	ASSERT_TRUE(first.start()) << first.log();
	Daemon second(d, {}, "other.img");
	EXPECT_EQ(second.run_to_exit(), 2);
	EXPECT_NE(second.log().find("another el3d (pid " + std::to_string(first.pid()) + ") is serving"),
	          std::string::npos)
	    << second.log();
	EXPECT_FALSE(exists(d.file("other.img")));  // refused before touching anything
	EXPECT_EQ(get_state(*connect(first.socket)).daemon_pid(), static_cast<uint32_t>(first.pid()));
}

TEST(Daemon, StaleSocketOfAKilledDaemonIsTakenOver)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	el3d.signal(SIGKILL);
	EXPECT_EQ(el3d.wait(), 128 + SIGKILL);
	EXPECT_TRUE(exists(el3d.socket));  // left behind
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_EQ(get_state(*connect(el3d.socket)).daemon_pid(), static_cast<uint32_t>(el3d.pid()));
}

TEST(Daemon, NonSocketAtTheSocketPathIsNotReplaced)
{
	TempDir d;
	write_file(d.file("el3d.sock"), "precious");
	Daemon el3d(d);
	EXPECT_EQ(el3d.run_to_exit(), 3);
	EXPECT_EQ(read_file(d.file("el3d.sock")), "precious");
	EXPECT_NE(el3d.log().find("is not a socket"), std::string::npos) << el3d.log();
}

TEST(Daemon, GarbageFileIsRefusedAndLeftUnchanged)
{
	TempDir d;
	std::string garbage(3 << 20, '\0');
	for (std::size_t i = 0; i < garbage.size(); ++i)
		garbage[i] = static_cast<char>((i * 2654435761u) >> 13);
	write_file(d.file("c.img"), garbage);
	Daemon el3d(d);
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_TRUE(read_file(d.file("c.img")) == garbage) << "the refused file was modified";
	EXPECT_NE(el3d.log().find("not an el3d carveout file"), std::string::npos) << el3d.log();
	EXPECT_FALSE(exists(el3d.socket));
}

TEST(Daemon, OtherGeometryIsRefusedAndLeftUnchanged)
{
	TempDir d;
	{
		Daemon el3d(d);
		ASSERT_TRUE(el3d.start()) << el3d.log();
		el3d.signal(SIGTERM);
		ASSERT_EQ(el3d.wait(), 0);
	}
	const std::string before = read_file(d.file("c.img"));
	Daemon qemu(d, {"--platform", "qemu"});
	EXPECT_EQ(qemu.run_to_exit(), 2);
	EXPECT_NE(qemu.log().find("platform: file has fvp, asked for qemu"), std::string::npos) << qemu.log();
	Daemon slots(d, {"--region-slots", "8"});
	EXPECT_EQ(slots.run_to_exit(), 2);
	EXPECT_TRUE(read_file(d.file("c.img")) == before);
	// Without options the file's own geometry is used; --reset recreates it for another platform.
	Daemon reset(d, {"--platform", "qemu", "--reset"});
	ASSERT_TRUE(reset.start()) << reset.log();
	EXPECT_EQ(get_state(*connect(reset.socket)).platform(), "qemu");
}

// docs/platforms.md: a new file gets its ABI's payload size; a later start with another ABI (and
// the platform named) keeps the file's, and only an explicit --payload-size that differs is refused.
TEST(Daemon, PayloadSizeIsTheNewFilesAbiDefault)
{
	TempDir d;
	{
		Daemon tfa(d, {"--abi", "tfa"});
		ASSERT_TRUE(tfa.start()) << tfa.log();
		EXPECT_EQ(get_state(*connect(tfa.socket)).payload_limit(), 0xFE200000u);  // RMM_BASE + 6 MiB
		EXPECT_EQ(tfa.log().find("payload size of"), std::string::npos) << tfa.log();
		tfa.signal(SIGTERM);
		ASSERT_EQ(tfa.wait(), 0);
	}
	{
		Daemon seed(d, {"--abi", "seed", "--platform", "fvp"});
		ASSERT_TRUE(seed.start()) << seed.log();
		EXPECT_EQ(get_state(*connect(seed.socket)).payload_limit(), 0xFE200000u);
		// ... and says so, with the remedies.
		EXPECT_NE(seed.log().find("not the 0x800000 the seed ABI gives a new file"), std::string::npos) << seed.log();
		EXPECT_NE(seed.log().find("--reset"), std::string::npos) << seed.log();
		seed.signal(SIGTERM);
		ASSERT_EQ(seed.wait(), 0);
	}
	const std::string before = read_file(d.file("c.img"));
	Daemon asked(d, {"--payload-size", "0x800000"});
	EXPECT_EQ(asked.run_to_exit(), 2);
	EXPECT_NE(asked.log().find("payload"), std::string::npos) << asked.log();
	EXPECT_TRUE(read_file(d.file("c.img")) == before);
	TempDir s;
	Daemon seed_new(s);
	ASSERT_TRUE(seed_new.start()) << seed_new.log();
	EXPECT_EQ(get_state(*connect(seed_new.socket)).payload_limit(), 0xFE400000u);  // the seed's 8 MiB
}

TEST(Daemon, BadOptionsExitWithUsageError)
{
	TempDir d;
	EXPECT_EQ(Daemon(d, {"--platform", "juno"}).run_to_exit(), 1);
	EXPECT_EQ(Daemon(d, {"--region-slots", "70000"}).run_to_exit(), 1);
	EXPECT_EQ(Daemon(d, {"--payload-size", "lots"}).run_to_exit(), 1);
	Daemon geom(d, {"--payload-size", "0x4000000"});  // larger than the carveout
	EXPECT_EQ(geom.run_to_exit(), 3);
	EXPECT_NE(geom.log().find("leaves no room"), std::string::npos) << geom.log();
	EXPECT_FALSE(exists(d.file("c.img")));
}

TEST(Daemon, QemuSbsaGeometryStartsSparse)
{
	TempDir d;
	Daemon el3d(d, {"--platform", "qemu-sbsa"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto s = get_state(*connect(el3d.socket));
	EXPECT_EQ(s.rmm_base(), 0x10000000000u);
	EXPECT_EQ(s.core_count(), 512u);
	struct stat st {};
	ASSERT_EQ(::stat(el3d.carveout.c_str(), &st), 0);
	EXPECT_GT(static_cast<uint64_t>(st.st_size), 1ull << 30);
	EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 16ull << 20);
}

TEST(DaemonDefaults, CreatesPrivateDefaultDirectories)
{
	TempDir d;
	Daemon el3d(d);
	use_default_socket(el3d, d);
	el3d.env.push_back("XDG_STATE_HOME=" + d.file("state"));
	el3d.default_carveout = true;
	el3d.carveout = d.file("state/el3d/carveout-fvp.img");
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_EQ(mode_of(d.file("run/el3d")), 0700u);
	EXPECT_EQ(mode_of(d.file("state/el3d")), 0700u);
	EXPECT_EQ(mode_of(el3d.socket), 0600u);
	EXPECT_EQ(get_state(*connect(el3d.socket)).carveout_path(), el3d.carveout);
	el3d.signal(SIGTERM);
	EXPECT_EQ(el3d.wait(), 0);
	// And again: its own private directories are accepted.
	ASSERT_TRUE(el3d.start()) << el3d.log();
}

// Another local user pre-creates el3d's runtime directory, open to all, with the lock file a
// symbolic link to a file of the victim's: el3d must refuse, and truncate nothing.
TEST(DaemonDefaults, HostileRuntimeDirectoryIsRefused)
{
	TempDir d;
	write_file(d.file("victim"), "precious");
	ASSERT_EQ(::mkdir(d.file("run").c_str(), 0700), 0);
	ASSERT_EQ(::mkdir(d.file("run/el3d").c_str(), 0700), 0);
	ASSERT_EQ(::chmod(d.file("run/el3d").c_str(), 0777), 0);
	ASSERT_EQ(::symlink(d.file("victim").c_str(), d.file("run/el3d/el3d.sock.lock").c_str()), 0);
	Daemon el3d(d);
	use_default_socket(el3d, d);
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_EQ(read_file(d.file("victim")), "precious");
	EXPECT_NE(el3d.log().find("refusing to use " + d.file("run/el3d") + ": its mode is 0777"), std::string::npos)
	    << el3d.log();
	EXPECT_FALSE(exists(el3d.carveout)) << "refused before touching anything";
	EXPECT_EQ(mode_of(d.file("run/el3d")), 0777u) << "a refused directory is left as it is";
}

TEST(DaemonDefaults, SymlinkedRuntimeDirectoryIsRefused)
{
	TempDir d;
	ASSERT_EQ(::mkdir(d.file("run").c_str(), 0700), 0);
	ASSERT_EQ(::mkdir(d.file("elsewhere").c_str(), 0700), 0);  // private, and ours: still not followed
	ASSERT_EQ(::symlink(d.file("elsewhere").c_str(), d.file("run/el3d").c_str()), 0);
	Daemon el3d(d);
	use_default_socket(el3d, d);
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_NE(el3d.log().find("is a symbolic link"), std::string::npos) << el3d.log();
	EXPECT_FALSE(exists(d.file("elsewhere/el3d.sock.lock")));
	EXPECT_FALSE(exists(d.file("elsewhere/el3d.sock")));
}

TEST(DaemonDefaults, RuntimeDirectoryOfAnotherUserIsRefused)
{
	if (::getuid() != 0) {
		// Only root can give a directory away; without it, check the same rule on one of root's.
		EXPECT_THROW(el3d::make_private_dir("/usr"), el3d::UnsafePath);
		return;
	}
	TempDir d;
	ASSERT_EQ(::mkdir(d.file("run").c_str(), 0700), 0);
	ASSERT_EQ(::mkdir(d.file("run/el3d").c_str(), 0700), 0);
	ASSERT_EQ(::chown(d.file("run/el3d").c_str(), 12345, 12345), 0);
	Daemon el3d(d);
	use_default_socket(el3d, d);
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_NE(el3d.log().find("it is owned by uid 12345, not by you"), std::string::npos) << el3d.log();
	EXPECT_FALSE(exists(d.file("run/el3d/el3d.sock.lock")));
}

TEST(DaemonDefaults, StateDirectoryOthersMayReadIsRefused)
{
	TempDir d;
	ASSERT_EQ(::mkdir(d.file("state").c_str(), 0700), 0);
	ASSERT_EQ(::mkdir(d.file("state/el3d").c_str(), 0700), 0);
	ASSERT_EQ(::chmod(d.file("state/el3d").c_str(), 0755), 0);
	Daemon el3d(d);
	el3d.env = {"XDG_STATE_HOME=" + d.file("state")};
	el3d.default_carveout = true;
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_NE(el3d.log().find("its mode is 0755, so group or others may access it; make it private with `chmod 700"),
	          std::string::npos)
	    << el3d.log();
	EXPECT_FALSE(exists(d.file("state/el3d/carveout-fvp.img")));
	EXPECT_FALSE(exists(el3d.socket)) << "the socket it took is given back";
	EXPECT_FALSE(exists(el3d.socket + ".lock"));
}

// A socket path the user chose may be in a shared directory; the lock file is still never
// followed through a symbolic link.
TEST(Daemon, SymlinkedLockFileIsNeverFollowed)
{
	TempDir d;
	write_file(d.file("victim"), "precious");
	ASSERT_EQ(::symlink(d.file("victim").c_str(), d.file("el3d.sock.lock").c_str()), 0);
	Daemon el3d(d);
	EXPECT_EQ(el3d.run_to_exit(), 2);
	EXPECT_EQ(read_file(d.file("victim")), "precious");
	EXPECT_NE(el3d.log().find("lock file " + el3d.socket + ".lock is a symbolic link"), std::string::npos)
	    << el3d.log();
	EXPECT_FALSE(exists(el3d.carveout));
}

// A cleaner of old files in /tmp deletes the running daemon's lock file: the next el3d must not
// take the live socket over.
TEST(Daemon, LiveSocketWhoseLockFileWasDeletedIsNotTakenOver)
{
	TempDir d;
	Daemon first(d);
	ASSERT_TRUE(first.start()) << first.log();
	ASSERT_EQ(::unlink((first.socket + ".lock").c_str()), 0);
	Daemon second(d, {}, "other.img");
	EXPECT_EQ(second.run_to_exit(), 2);
	EXPECT_NE(second.log().find("another el3d is serving on " + first.socket), std::string::npos) << second.log();
	EXPECT_FALSE(exists(d.file("other.img")));  // refused before touching anything
	EXPECT_TRUE(exists(first.socket));
	EXPECT_EQ(get_state(*connect(first.socket)).daemon_pid(), static_cast<uint32_t>(first.pid()));
	first.signal(SIGTERM);
	EXPECT_EQ(first.wait(), 0);
}

TEST(Daemon, StaleTemporaryCarveoutFilesAreRemovedAtStart)
{
	TempDir d;
	write_file(d.file("c.img.new.k1LL3d"), "left by a creator that was killed");
	write_file(d.file("c.img.new.notours"), "kept");
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	EXPECT_FALSE(exists(d.file("c.img.new.k1LL3d")));
	EXPECT_EQ(read_file(d.file("c.img.new.notours")), "kept");
	EXPECT_NE(el3d.log().find("removed stale temporary file " + d.file("c.img.new.k1LL3d")), std::string::npos)
	    << el3d.log();
}

// A client that breaks the Session protocol, or vanishes, gets an error; the daemon carries on.
TEST(Daemon, SessionsFromBadClientsDoNotHurtTheDaemon)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	auto session = [&](grpc::ClientContext& c) { return stub->Session(&c); };
	v1::SessionRequest enter;
	enter.mutable_enter()->set_cpu(1);
	enter.mutable_enter()->set_client("evil\nFORGED log line");
	v1::SessionRequest call;
	call.mutable_smc()->set_fid(0xC40001B7);
	call.mutable_smc()->set_x1(0x1000);
	v1::SessionResponse resp;
	// Sends `last` and expects the daemon to end the session with `code`, answering nothing.
	using Stream = std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>>;
	auto expect_ended = [&](Stream& s, const v1::SessionRequest& last, grpc::StatusCode code) {
		ASSERT_TRUE(s->Write(last));
		s->WritesDone();
		EXPECT_FALSE(s->Read(&resp));
		EXPECT_EQ(s->Finish().error_code(), code);
	};
	{
		auto c = ctx();
		auto s = session(*c);
		expect_ended(s, call, grpc::StatusCode::INVALID_ARGUMENT);  // smc before enter
	}
	{
		auto c = ctx();
		auto s = session(*c);
		v1::SessionRequest bad = enter;
		bad.mutable_enter()->set_cpu(1000);
		expect_ended(s, bad, grpc::StatusCode::INVALID_ARGUMENT);
	}
	{
		auto c = ctx();
		auto s = session(*c);
		ASSERT_TRUE(s->Write(enter));
		ASSERT_TRUE(s->Read(&resp));
		EXPECT_TRUE(resp.has_entered());
		// The CPU is taken while this session lives.
		auto c2 = ctx();
		auto s2 = session(*c2);
		expect_ended(s2, enter, grpc::StatusCode::ALREADY_EXISTS);
		// A second enter ends the session with an error and frees the CPU.
		expect_ended(s, enter, grpc::StatusCode::INVALID_ARGUMENT);
	}
	{
		// A client that goes away in the middle of its session.
		auto c = ctx();
		auto s = session(*c);
		ASSERT_TRUE(s->Write(enter));
		ASSERT_TRUE(s->Read(&resp));
		ASSERT_TRUE(s->Write(call));
		c->TryCancel();
		s->Finish();
	}
	// The daemon is still there, and the CPU is free again.
	bool released = false;
	for (int i = 0; i < 200 && !released; ++i) {
		released = true;
		const v1::State state = get_state(*stub);
		for (const auto& cpu : state.cpus())
			released = released && !cpu.session();
		if (!released)
			std::this_thread::sleep_for(10ms);
	}
	EXPECT_TRUE(released);
	EXPECT_TRUE(el3d.running());
	auto c = ctx();
	auto s = session(*c);
	ASSERT_TRUE(s->Write(enter));
	ASSERT_TRUE(s->Read(&resp));
	EXPECT_TRUE(resp.has_entered());
	s->WritesDone();
	EXPECT_TRUE(s->Finish().ok());
	// The client's name cannot forge log lines.
	EXPECT_NE(el3d.log().find("session opened by evil?FORGED log line"), std::string::npos) << el3d.log();
	EXPECT_EQ(el3d.log().find("\nFORGED"), std::string::npos);
}
