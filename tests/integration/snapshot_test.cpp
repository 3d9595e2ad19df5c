// Snapshots with the real daemon over its socket (docs/snapshots.md): el3ctl snapshot save / list /
// restore / rm bring back regions, bytes, delegations, boot states and the activation, also after a
// restart; hostile names and existing names refused; a restore refused while a session holds a CPU
// unless forced, and refused for a snapshot of another geometry; and SIGKILL of el3d at random
// instants of saves and restores leaves, after a restart, the state of one snapshot or the other
// and only complete snapshots.
#include "el3d/smc.h"
#include "harness.hpp"

#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <random>
#include <thread>

using namespace el3d::test;
using namespace el3d;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t D = 0x80000000;  // FVP DRAM bank 0

// Everything a snapshot brings back, as one comparable string: regions and their bytes, granules per
// PAS, CPUs' boot states and tokens, the activation and the epoch.
std::string state_of(v1::Monitor::Stub& stub)
{
	const v1::State s = get_state(stub);
	std::string out = "epoch=" + std::to_string(s.epoch()) + " activation=" + std::to_string(s.activation()) +
	                  " top=" + std::to_string(s.top()) + "\n";
	for (const auto& r : s.regions()) {
		v1::ReadMemoryRequest req;
		req.set_address(r.address());
		req.set_length(r.size());
		v1::ReadMemoryResponse resp;
		auto c = ctx();
		EXPECT_TRUE(stub.ReadMemory(c.get(), req, &resp).ok());
		out += "region id=" + std::to_string(r.id()) + " " + std::to_string(r.address()) + "+" +
		       std::to_string(r.size()) + " bytes=" + std::to_string(std::hash<std::string>{}(resp.data())) + "\n";
	}
	for (const auto& g : s.gpt())
		out += g.DebugString();
	for (const auto& c : s.cpus())
		out += "cpu" + std::to_string(c.cpu()) + " state=" + std::to_string(c.state()) + " token=" +
		       std::to_string(c.token()) + " completions=" + std::to_string(c.completions()) + "\n";
	return out;
}

void write(v1::Monitor::Stub& stub, uint64_t pa, const std::string& bytes)
{
	v1::WriteMemoryRequest req;
	req.set_address(pa);
	req.set_data(bytes);
	v1::WriteMemoryResponse resp;
	auto c = ctx();
	ASSERT_TRUE(stub.WriteMemory(c.get(), req, &resp).ok());
}

grpc::Status restore(v1::Monitor::Stub& stub, const std::string& name, bool force = false)
{
	v1::RestoreSnapshotRequest req;
	req.set_name(name);
	req.set_force(force);
	v1::SnapshotInfo info;
	auto c = ctx(60s);
	return stub.RestoreSnapshot(c.get(), req, &info);
}

grpc::Status save(v1::Monitor::Stub& stub, const std::string& name, bool force = false)
{
	v1::SaveSnapshotRequest req;
	req.set_name(name);
	req.set_force(force);
	v1::SnapshotInfo info;
	auto c = ctx(60s);
	return stub.SaveSnapshot(c.get(), req, &info);
}

// State A: a booted CPU with a token, a region with content, a delegated granule.
void make_state_a(Daemon& el3d, v1::Monitor::Stub& stub)
{
	ASSERT_EQ(el3ctl(el3d.socket, {"boot"}).rc, 0);
	ASSERT_EQ(el3ctl(el3d.socket, {"alloc", "--size", "0x2000", "--id", "1"}).rc, 0);
	const uint64_t r = get_state(stub).regions(0).address();
	write(stub, r, std::string(0x2000, 'A'));
	ASSERT_EQ(smc(stub, EL3_FID_RMM_GTSI_DELEGATE, D).x0(), 0u);
	ASSERT_EQ(smc(stub, EL3_FID_RMM_BOOT_COMPLETE, 0, 0xa11ce).x0(), 0u);
}

// State B: reset, a new activation, other regions, bytes and delegations.
void make_state_b(Daemon& el3d, v1::Monitor::Stub& stub)
{
	ASSERT_EQ(el3ctl(el3d.socket, {"reset"}).rc, 0);
	ASSERT_EQ(el3ctl(el3d.socket, {"boot"}).rc, 0);
	ASSERT_EQ(el3ctl(el3d.socket, {"alloc", "--size", "0x3000", "--id", "2"}).rc, 0);
	ASSERT_EQ(el3ctl(el3d.socket, {"alloc", "--size", "0x1000", "--id", "3"}).rc, 0);
	write(stub, get_state(stub).regions(0).address(), std::string(0x3000, 'B'));
	ASSERT_EQ(smc(stub, EL3_FID_RMM_GTSI_DELEGATE, D + 0x200000).x0(), 0u);
}

}  // namespace

TEST(SnapshotDaemon, SaveListRestoreRemoveWithEl3ctl)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	make_state_a(el3d, *stub);
	const std::string a = state_of(*stub);

	auto r = el3ctl(el3d.socket, {"snapshot", "save", "booted", "--note", "after the first boot"});
	ASSERT_EQ(r.rc, 0) << r.err;
	EXPECT_NE(r.out.find("snapshot 'booted' saved"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find(d.file("c.img.snapshots/booted/carveout.img")), std::string::npos) << r.out;
	// Refusals: an existing name, hostile names, an unknown snapshot.
	r = el3ctl(el3d.socket, {"snapshot", "save", "booted"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
	for (const char* bad : {"../escape", "a/b", "..", ".hidden", "x.tmp-abcdef"}) {
		r = el3ctl(el3d.socket, {"snapshot", "save", bad});
		EXPECT_EQ(r.rc, 1) << bad << ": " << r.err;
	}
	EXPECT_EQ(el3ctl(el3d.socket, {"snapshot", "restore", "nope"}).rc, 2);
	EXPECT_EQ(el3ctl(el3d.socket, {"snapshot", "rm", "nope"}).rc, 2);

	r = el3ctl(el3d.socket, {"snapshot", "list", "--json"});
	ASSERT_EQ(r.rc, 0) << r.err;
	const auto j = nlohmann::json::parse(r.out);
	ASSERT_EQ(j["snapshots"].size(), 1u);
	const auto& info = j["snapshots"][0];
	EXPECT_EQ(info["name"], "booted");
	EXPECT_EQ(info["note"], "after the first boot");
	EXPECT_EQ(info["regions"], 1);
	EXPECT_EQ(info["bytes_used"], 0x2000);
	EXPECT_EQ(info["epoch"], get_state(*stub).epoch());
	EXPECT_EQ(info["activation"], get_state(*stub).activation());
	EXPECT_EQ(info["platform"], "fvp");
	EXPECT_EQ(info["source_uuid"], get_state(*stub).carveout_id());
	r = el3ctl(el3d.socket, {"snapshot", "list"});
	EXPECT_NE(r.out.find("booted"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("after the first boot"), std::string::npos) << r.out;

	make_state_b(el3d, *stub);
	const std::string b = state_of(*stub);
	ASSERT_NE(a, b);
	r = el3ctl(el3d.socket, {"snapshot", "restore", "booted"});
	ASSERT_EQ(r.rc, 0) << r.err;
	EXPECT_EQ(state_of(*stub), a);
	// el3d serves the restored state: the granule delegated in A is Realm, B's is Non-secure again.
	EXPECT_EQ(static_cast<int64_t>(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, D).x0()), EL3_E_RMM_BAD_PAS);
	EXPECT_EQ(static_cast<int64_t>(smc(*stub, EL3_FID_RMM_GTSI_UNDELEGATE, D + 0x200000).x0()), EL3_E_RMM_BAD_PAS);
	// A restart sees the same.
	el3d.signal(SIGTERM);
	ASSERT_EQ(el3d.wait(), 0) << el3d.log();
	ASSERT_TRUE(el3d.start()) << el3d.log();
	stub = connect(el3d.socket);
	EXPECT_EQ(state_of(*stub), a);
	// Replaced with --force, then removed.
	EXPECT_EQ(el3ctl(el3d.socket, {"snapshot", "save", "booted", "--force", "--note", "again"}).rc, 0);
	EXPECT_EQ(nlohmann::json::parse(el3ctl(el3d.socket, {"snapshot", "list", "--json"}).out)["snapshots"][0]["note"],
	          "again");
	EXPECT_EQ(el3ctl(el3d.socket, {"snapshot", "rm", "booted"}).rc, 0);
	EXPECT_TRUE(nlohmann::json::parse(el3ctl(el3d.socket, {"snapshot", "list", "--json"}).out)["snapshots"].empty());
}

TEST(SnapshotDaemon, RestoreRefusedWhileASessionHoldsACpuUnlessForced)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	make_state_a(el3d, *stub);
	ASSERT_TRUE(save(*stub, "a").ok());
	const std::string a = state_of(*stub);
	make_state_b(el3d, *stub);

	grpc::ClientContext sctx;
	auto s = stub->Session(&sctx);
	v1::SessionRequest req;
	req.mutable_enter()->set_cpu(1);
	v1::SessionResponse resp;
	ASSERT_TRUE(s->Write(req) && s->Read(&resp) && resp.has_entered());
	const std::string b = state_of(*stub);
	grpc::Status st = restore(*stub, "a");
	EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
	EXPECT_NE(st.error_message().find("CPU 1"), std::string::npos) << st.error_message();
	EXPECT_EQ(state_of(*stub), b);
	auto r = el3ctl(el3d.socket, {"snapshot", "restore", "a"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_NE(r.err.find("session"), std::string::npos) << r.err;
	// Forced: restored under the session, which goes on.
	r = el3ctl(el3d.socket, {"snapshot", "restore", "a", "--force"});
	ASSERT_EQ(r.rc, 0) << r.err;
	req.mutable_smc()->set_fid(EL3_FID_RMM_EL3_FEATURES);
	ASSERT_TRUE(s->Write(req) && s->Read(&resp) && resp.has_smc());
	s->WritesDone();
	EXPECT_TRUE(s->Finish().ok());
	// The session's entry and the SMC counted on top of A: compare what A fixed.
	const v1::State now = get_state(*stub);
	ASSERT_EQ(now.regions_size(), 1);
	EXPECT_EQ(now.regions(0).id(), 1u);
	EXPECT_EQ(static_cast<int64_t>(smc(*stub, EL3_FID_RMM_GTSI_DELEGATE, D).x0()), EL3_E_RMM_BAD_PAS);
	(void)a;
}

TEST(SnapshotDaemon, SnapshotOfAnotherGeometryRefused)
{
	TempDir d;
	const std::string dir = d.file("snaps");
	{
		Daemon q(d, {"--platform", "qemu", "--snapshot-dir", dir}, "q.img");
		q.socket = d.file("q.sock");
		ASSERT_TRUE(q.start()) << q.log();
		auto stub = connect(q.socket);
		ASSERT_TRUE(save(*stub, "qemu-state").ok());
	}
	Daemon el3d(d, {"--snapshot-dir", dir});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	make_state_a(el3d, *stub);
	const std::string a = state_of(*stub);
	grpc::Status st = restore(*stub, "qemu-state", true);
	EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
	EXPECT_NE(st.error_message().find("platform"), std::string::npos) << st.error_message();
	EXPECT_EQ(state_of(*stub), a);
}

// SIGKILL of el3d at random instants while a client restores snapshot a, restores b and saves c
// (forced) in a loop: after each restart the carveout holds exactly a's state or b's, and c, if listed,
// is a complete copy of one of them.
TEST(SnapshotDaemon, SigkillAtRandomInstantsOfSavesAndRestores)
{
	TempDir d;
	Daemon el3d(d);
	ASSERT_TRUE(el3d.start()) << el3d.log();
	auto stub = connect(el3d.socket);
	make_state_a(el3d, *stub);
	ASSERT_TRUE(save(*stub, "a").ok());
	const std::string a = state_of(*stub);
	make_state_b(el3d, *stub);
	ASSERT_TRUE(save(*stub, "b").ok());
	const std::string b = state_of(*stub);
	std::mt19937 rng(std::random_device{}());
	unsigned kills = 0, saw_a = 0, saw_b = 0, saw_c = 0;
	for (int round = 0; round < 12; ++round) {
		std::atomic<bool> stop{false};
		std::atomic<unsigned> done{0};
		std::thread client([&] {
			auto s = connect(el3d.socket);
			for (unsigned i = 0; !stop; ++i) {
				const grpc::Status st = i % 3 == 2 ? save(*s, "c", true) : restore(*s, i % 3 ? "b" : "a");
				if (!st.ok())
					break;
				++done;
			}
		});
		std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 150));
		el3d.signal(SIGKILL);
		el3d.wait();
		stop = true;
		client.join();
		++kills;
		ASSERT_TRUE(el3d.start()) << el3d.log();
		stub = connect(el3d.socket);
		const std::string now = state_of(*stub);
		ASSERT_TRUE(now == a || now == b) << "round " << round << ": neither snapshot's state:\n" << now;
		(now == a ? saw_a : saw_b)++;
		const auto list = nlohmann::json::parse(el3ctl(el3d.socket, {"snapshot", "list", "--json"}).out)["snapshots"];
		ASSERT_GE(list.size(), 2u);
		ASSERT_LE(list.size(), 3u);
		if (list.size() == 3) {
			// c is complete: restoring it gives a's or b's state.
			ASSERT_TRUE(restore(*stub, "c").ok());
			const std::string c = state_of(*stub);
			EXPECT_TRUE(c == a || c == b) << "round " << round << ": snapshot c is neither";
			++saw_c;
		}
		std::printf("round %d: %u operations before the kill\n", round, done.load());
	}
	std::printf("%u kills; afterwards a %u times, b %u times; c checked %u times\n", kills, saw_a, saw_b, saw_c);
}
