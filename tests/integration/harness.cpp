#include "harness.hpp"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

namespace el3d::test {

std::unique_ptr<v1::Monitor::Stub> connect(const std::string& socket)
{
	grpc::ChannelArguments args;
	args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
	args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
	args.SetMaxReceiveMessageSize(8 << 20);
	return v1::Monitor::NewStub(grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args));
}

std::unique_ptr<grpc::ClientContext> ctx(std::chrono::milliseconds timeout)
{
	auto c = std::make_unique<grpc::ClientContext>();
	c->set_deadline(std::chrono::system_clock::now() + timeout);
	return c;
}

v1::State get_state(v1::Monitor::Stub& stub)
{
	v1::State s;
	auto st = stub.GetState(ctx().get(), {}, &s);
	EXPECT_TRUE(st.ok()) << st.error_message();
	return s;
}

v1::SmcResponse smc(v1::Monitor::Stub& stub, uint64_t fid, uint64_t x1, uint64_t x2, uint32_t cpu)
{
	v1::SmcRequest req;
	req.set_cpu(cpu);
	req.set_fid(fid);
	req.set_x1(x1);
	req.set_x2(x2);
	v1::SmcResponse resp;
	auto st = stub.Smc(ctx().get(), req, &resp);
	EXPECT_TRUE(st.ok()) << st.error_message();
	return resp;
}

}  // namespace el3d::test
